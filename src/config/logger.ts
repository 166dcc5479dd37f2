// The process logger: pino, JSON lines on stdout, level from LOG_LEVEL (or RUST_LOG).
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'tetcore-analytics' } });
}
