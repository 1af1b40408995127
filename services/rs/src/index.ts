// What others may import from rs: the backends that run services (mkctl boots the parts
// below rs with the same process backend rs uses for the rest), the supervisor and rs
// as a service module.
export * from "./backend.ts";
export * from "./process-backend.ts";
export * from "./supervisor.ts";
export * from "./rs.ts";
