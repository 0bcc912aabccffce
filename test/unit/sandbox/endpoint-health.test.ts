import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pingEndpoint, unreachableWarnings } from '../../../sandbox/endpoint-health';

/** The start-up check of model endpoints the user named (issue 16): GET /ping, and the warning when it fails. */

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }
});

async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on: bound, then released. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return `http://127.0.0.1:${port}`;
}

describe('pingEndpoint', () => {
  it('is ok when GET /ping answers 200, below the URL path', async () => {
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(req.url === '/prefix/ping' ? 200 : 404).end();
    });
    await expect(pingEndpoint(`${url}/prefix/`)).resolves.toEqual({ ok: true });
    await expect(pingEndpoint(url)).resolves.toEqual({ ok: false, problem: 'it answered HTTP 404' });
    expect(seen).toEqual(['GET /prefix/ping', 'GET /ping']);
  });

  it('names a refused connection', async () => {
    await expect(pingEndpoint(await closedPortUrl())).resolves.toEqual({
      ok: false,
      problem: 'connection refused: nothing listens there',
    });
  });

  it('gives up on a server that never answers', async () => {
    const url = await serve(() => undefined);
    await expect(pingEndpoint(url, 200)).resolves.toEqual({ ok: false, problem: 'no answer within 0.2 s' });
  });

  it('says when the value is not a URL at all', async () => {
    await expect(pingEndpoint('not a url')).resolves.toEqual({ ok: false, problem: 'not a URL' });
  });
});

describe('unreachableWarnings', () => {
  const apology = /every reply is the apology ".*Sorry, the model cannot answer right now/;

  it('is silent when every endpoint answered', () => {
    expect(unreachableWarnings({})).toEqual([]);
    expect(unreachableWarnings({ fallback: { url: 'http://b', modelId: 'fallback-cpu' } })).toEqual([]);
  });

  it('names the primary URL, why, and that the backup answers meanwhile', () => {
    const [warning, ...rest] = unreachableWarnings({
      primary: { url: 'http://10.0.0.9:8080', problem: 'connection refused: nothing listens there' },
      fallback: { url: 'http://127.0.0.1:5', modelId: 'fallback-cpu' },
    });
    expect(rest).toEqual([]);
    expect(warning).toBe(
      'WARNING: the model endpoint MODEL_ENDPOINT_URL=http://10.0.0.9:8080 does not answer GET /ping ' +
        '(connection refused: nothing listens there). Until it does, replies come from the backup model ' +
        'fallback-cpu at http://127.0.0.1:5.',
    );
  });

  it('says every reply is the apology when no backup can answer', () => {
    const primary = { url: 'http://10.0.0.9:8080', problem: 'it answered HTTP 404' };
    expect(unreachableWarnings({ primary })[0]).toMatch(apology);
    const both = unreachableWarnings({
      primary,
      fallback: { url: 'http://10.0.0.10:8080', modelId: 'fallback-cpu', problem: 'no answer within 3 s' },
    });
    expect(both).toHaveLength(2);
    expect(both[0]).toMatch(apology);
    expect(both[1]).toMatch(
      /^WARNING: the backup model endpoint FALLBACK_MODEL_ENDPOINT_URL=http:\/\/10\.0\.0\.10:8080 does not answer GET \/ping \(no answer within 3 s\)\. While the primary cannot answer, replies are the apology/,
    );
  });
});
