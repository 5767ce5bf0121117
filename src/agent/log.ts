/**
 * The agent's structured log: one line per event on a stream (stderr by
 * default), either one JSON object per line (`{"time","level","msg",...}`,
 * the default, for log collectors) or `time level msg key=value ...` text
 * for people.
 *
 * Field values are written as JSON values in both formats, so a message or
 * a file name with spaces stays one token in text mode too.
 *
 * @module
 */

/** Log line formats. */
export type LogFormat = "json" | "text";

/** The formats `--log-format` accepts. */
export const LOG_FORMATS: readonly LogFormat[] = Object.freeze(["json", "text"]);

/** Severity of a line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields of a line besides time, level and message. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Writes log lines. */
export interface AgentLogger {
  /** Writes one line. */
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  /** `log("info", ...)`. */
  info(msg: string, fields?: LogFields): void;
  /** `log("warn", ...)`. */
  warn(msg: string, fields?: LogFields): void;
  /** `log("error", ...)`. */
  error(msg: string, fields?: LogFields): void;
}

const RESERVED = new Set(["time", "level", "msg"]);

function jsonValue(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

/** A logger writing `format` lines to `stream`. */
export function createLogger(stream: { write(text: string): unknown }, format: LogFormat = "json"): AgentLogger {
  const log = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    const time = new Date().toISOString();
    let line: string;
    if (format === "json") {
      const record: Record<string, unknown> = { time, level, msg };
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) record[RESERVED.has(k) ? `field.${k}` : k] = v;
      line = JSON.stringify(record, (_, v: unknown) => jsonValue(v));
    } else {
      const parts = [time, level.toUpperCase().padEnd(5), msg];
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        const text = typeof v === "string" && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v, (_, x: unknown) => jsonValue(x));
        parts.push(`${k}=${text}`);
      }
      line = parts.join(" ");
    }
    stream.write(`${line}\n`);
  };
  return {
    log,
    info: (msg, fields) => log("info", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
  };
}

/** A logger that drops everything. */
export const SILENT_LOGGER: AgentLogger = Object.freeze({ log() {}, info() {}, warn() {}, error() {} });
