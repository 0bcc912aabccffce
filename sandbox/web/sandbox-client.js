/** Calls from the page to the sandbox, and what their failures mean, in one sentence a member can act on. */

/** `npm start` listens here unless PORT says otherwise. */
const DEFAULT_PORT = '3000';

/** fetch itself failed (its bare "Failed to fetch"): nothing answered at this page's origin. */
class UnreachableError extends Error {
  constructor(path, cause) {
    super(`${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** A non-2xx answer of a sandbox route, with the `{"error":{code,message}}` body when it sent one. */
class HttpError extends Error {
  constructor(path, status, body) {
    super(`${path} answered HTTP ${status}`);
    this.path = path;
    this.status = status;
    this.code = body?.error?.code || '';
    this.detail = body?.error?.message || (typeof body?.error === 'string' ? body.error : '');
  }
}

/** How to start the sandbox that serves this page: its PORT unless it is the default. */
function startCommand() {
  const port = location.port || (location.protocol === 'https:' ? '443' : '80');
  return port === DEFAULT_PORT ? 'npm start' : `PORT=${port} npm start`;
}

const notRunning = () =>
  `The sandbox is not running at ${location.origin}: start it with "${startCommand()}" (in the project folder).`;

const reason = (err) => [err.code, err.detail].filter(Boolean).join(': ');

/**
 * One sentence for a failed call to the sandbox: nothing answering means it is not running; a 5xx that it failed
 * (its terminal logs why); a 4xx that it refused the request, with the reason it gave.
 */
export function explainFailure(err) {
  if (err instanceof UnreachableError) return notRunning();
  if (!(err instanceof HttpError)) return `Unexpected error: ${err instanceof Error ? err.message : String(err)}.`;
  const why = reason(err);
  if (err.status >= 500) {
    return `The sandbox failed (HTTP ${err.status}${why ? `, ${why}` : ''}): the terminal running it shows why.`;
  }
  if (err.status >= 400) return `The sandbox refused it (HTTP ${err.status}${why ? `, ${why}` : ''}).`;
  return `The sandbox answered HTTP ${err.status} without the JSON it sends: is another server on ${location.origin}?`;
}

/** fetch + JSON: throws an UnreachableError when nothing answers, an HttpError for a non-2xx or non-JSON answer. */
export async function requestJson(path, init) {
  let response;
  try {
    response = await fetch(path, { cache: 'no-store', ...init });
  } catch (err) {
    throw new UnreachableError(path, err);
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok || body === undefined) throw new HttpError(path, response.status, body);
  return body;
}
