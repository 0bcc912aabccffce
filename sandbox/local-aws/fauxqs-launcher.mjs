// Child-process entry for fauxqs, which is ESM-only while jest runs CommonJS. Started by `fauxqs.ts` with an IPC
// channel. Contract with the parent:
//   env FAUXQS_LAUNCH_PORT (default 0 = any free port), FAUXQS_LAUNCH_REGION (default us-east-1);
//   sends {type:'listening', port} once it accepts connections, or {type:'failed', message} and exits 1;
//   exits when the parent disconnects (the parent ended, even by SIGKILL) or on SIGTERM/SIGINT.
// It uses `buildApp` instead of `startFauxqs` because the latter always binds 0.0.0.0; this binds 127.0.0.1 only.
import { buildApp } from 'fauxqs';

const port = Number(process.env.FAUXQS_LAUNCH_PORT ?? '0');
const defaultRegion = process.env.FAUXQS_LAUNCH_REGION ?? 'us-east-1';
const app = buildApp({ logger: false, defaultRegion });

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  const forced = setTimeout(() => process.exit(code), 2000);
  forced.unref();
  try {
    await app.close();
  } finally {
    process.exit(code);
  }
}

process.on('disconnect', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));

try {
  await app.listen({ port, host: '127.0.0.1' });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  process.send?.({ type: 'listening', port: actualPort });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (process.send) process.send({ type: 'failed', message }, () => void shutdown(1));
  else await shutdown(1);
}
