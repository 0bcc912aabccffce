/** A local stand-in listening on 127.0.0.1. `stop()` is idempotent and resolves once the port is released. */
export interface LocalServer {
  /** e.g. `http://127.0.0.1:41234`; pass it as the SDK client's `endpoint`. */
  readonly endpoint: string;
  stop(): Promise<void>;
}
