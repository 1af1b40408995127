// Shared by the benchmark and its echo server: the raw (no kernel) request subject.
export const RAW_SUBJECT = "mk.ep.bench-echo.raw";
