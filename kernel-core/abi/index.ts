// What user space compiles against: message types, subjects, envelope, errno, layouts.
export * from "./com.ts";
export * from "./errno.ts";
export * from "./events.ts";
export * from "./messages.ts";
export * from "./schema.ts";
export * from "./types.ts";
export * from "./wire.ts";
export * from "./fcntl.ts";
export * from "./sched.ts";
export * from "./stat.ts";
