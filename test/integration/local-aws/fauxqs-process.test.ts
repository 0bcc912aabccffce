import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { createAwsClients, startFauxqs } from '../../../sandbox/local-aws/index';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

describe('startFauxqs', () => {
  it('answers the SQS protocol on 127.0.0.1 and leaves no process behind after stop()', async () => {
    const server = await startFauxqs();
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(isAlive(server.pid)).toBe(true);
    const { sqs } = createAwsClients({ dynamoEndpoint: 'http://127.0.0.1:9', sqsEndpoint: server.endpoint });
    await expect(sqs.send(new ListQueuesCommand({}))).resolves.toBeDefined();
    sqs.destroy();

    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
    await expect(fetch(`${server.endpoint}/health`)).rejects.toThrow();
    // stop() is idempotent.
    await expect(server.stop()).resolves.toBeUndefined();
  });

  it('fails with the reason when the port is taken, and leaves no process behind', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startFauxqs({ port })).rejects.toThrow(/fauxqs failed to start: .*EADDRINUSE/);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('does not outlive a parent that is killed with SIGKILL', async () => {
    const fixture = path.join(__dirname, 'fixtures', 'fauxqs-parent.ts');
    const parent = spawn(process.execPath, ['--import', 'tsx', fixture], {
      cwd: path.join(__dirname, '..', '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const childPid = await new Promise<number>((resolve, reject) => {
      let output = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const line = output.split('\n')[0];
        if (output.includes('\n') && line) resolve(Number(line));
      });
      parent.once('exit', (code) => reject(new Error(`fixture exited early with code ${code}`)));
    });
    expect(isAlive(childPid)).toBe(true);

    parent.kill('SIGKILL');
    await expect(waitUntilGone(childPid, 5000)).resolves.toBe(true);
  });
});
