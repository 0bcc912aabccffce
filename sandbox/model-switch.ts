import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, forwardTo, listenLocal, readRequestBody } from './http-forward';

/**
 * The primary model's switch (issue 16, offline mode): a reverse proxy the handlers call as `MODEL_ENDPOINT_URL`, in
 * front of the primary engine (or an external server, or the fault proxy). Up, it passes every call on unchanged,
 * streaming included. Down, it answers every call — `GET /ping` and both invocation routes — with 503
 * `ServiceUnavailable`, as SageMaker's runtime does when an endpoint cannot serve, without touching the engine.
 *
 * Why a 503 rather than refusing connections: the worker's client (`functions/model/classify-error.ts`) treats both
 * alike — a retryable `server_error`, so each call is retried within its deadline, counts one failure towards the
 * circuit breaker, and hands the question to the fallback; five such calls open the circuit and later calls go to the
 * fallback at once (`circuit_open`) — which is the path a real outage takes. A 503 keeps that path while the switch
 * keeps its port: closing the listener would let another process take the port before the primary comes back up, and
 * would strand the SDK's keep-alive sockets.
 *
 * Calls already in flight when the switch goes down finish normally (a streamed answer is not cut): only calls that
 * start while it is down fail.
 */
export type PrimaryState = 'up' | 'down';

export interface ModelSwitch {
  /** The switch's own URL: what the handlers call. */
  readonly url: string;
  state(): PrimaryState;
  set(state: PrimaryState): void;
  /** Calls answered 503 because the switch was down, since it started. */
  refusedCalls(): number;
  close(): Promise<void>;
}

/** What the SDK reads from a refused call: `x-amzn-errortype` names the exception, `message` its text. */
const SWITCHED_OFF_ERROR_TYPE = 'ServiceUnavailable';
const SWITCHED_OFF_MESSAGE =
  'The primary model is switched off in the sandbox (POST /_sandbox/model/primary {"state":"up"} brings it back).';

export async function startModelSwitch(options: {
  readonly target: string;
  /** @default 'up' */
  readonly initial?: PrimaryState;
}): Promise<ModelSwitch> {
  const target = new URL(options.target);
  let state: PrimaryState = options.initial ?? 'up';
  let refused = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Read whole even when refused: answering before the body is in would reset a keep-alive connection.
    const body = await readRequestBody(req);
    if (state === 'down') {
      refused += 1;
      res.writeHead(503, { 'content-type': 'application/json', 'x-amzn-errortype': SWITCHED_OFF_ERROR_TYPE });
      return void res.end(
        JSON.stringify({
          message: SWITCHED_OFF_MESSAGE,
          error: { code: 'primary_down', message: SWITCHED_OFF_MESSAGE },
        }),
      );
    }
    forwardTo(target, req, body, res, `Primary model endpoint ${options.target} is unreachable`);
  }

  const url = await listenLocal(server);
  return {
    url,
    state: () => state,
    set: (next) => {
      state = next;
    },
    refusedCalls: () => refused,
    close: () => closeServer(server),
  };
}
