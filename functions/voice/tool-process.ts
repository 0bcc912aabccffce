import { spawn } from 'node:child_process';
import { VoiceError } from './voice-error';

export interface ToolRun {
  /** Executable name or path; looked up on PATH. Never a shell: arguments are passed as an array. */
  readonly command: string;
  readonly args: readonly string[];
  /** Written to the tool's stdin, which is then closed. */
  readonly input?: Uint8Array;
  /** Killed (SIGKILL) after this long: `timeout`. */
  readonly timeoutMs: number;
  /** Killed once stdout grows past this: `unavailable` (a runaway tool), so memory stays bounded. */
  readonly maxOutputBytes: number;
  /** The turn's deadline: killed and `timeout` when it aborts. */
  readonly signal?: AbortSignal;
  /** What the member's reply names when the tool is missing, e.g. `apt-get install espeak-ng`. */
  readonly installHint: string;
}

/**
 * Runs one local engine (espeak-ng, pocketsphinx, opusdec) with time and size limits and resolves with its stdout.
 * A missing executable is `unavailable` naming the package to install; a non-zero exit is `unavailable` with the
 * first line of stderr kept for the log only (`cause`), never shown to members.
 */
export function runTool(run: ToolRun): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (run.signal?.aborted) {
      reject(new VoiceError('timeout', `${run.command} was not started: the deadline has passed`));
      return;
    }
    const child = spawn(run.command, [...run.args], { stdio: ['pipe', 'pipe', 'pipe'], shell: false });
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let stderr = '';
    let failure: VoiceError | undefined;
    const fail = (error: VoiceError) => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail(new VoiceError('timeout', `${run.command} took longer than ${run.timeoutMs} ms`)),
      run.timeoutMs,
    );
    const onAbort = () => fail(new VoiceError('timeout', `${run.command} was stopped: the deadline passed`));
    run.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > run.maxOutputBytes) {
        fail(new VoiceError('unavailable', `${run.command} wrote more than ${run.maxOutputBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8');
    });
    // EPIPE when the tool exits before reading all input: its exit status says what happened.
    child.stdin.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) => {
      fail(
        err.code === 'ENOENT'
          ? new VoiceError(
              'unavailable',
              `voice is not available in this sandbox: install ${run.command} (${run.installHint})`,
            )
          : new VoiceError('unavailable', `${run.command} could not be started`, { cause: err }),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      if (code !== 0) {
        const detail = stderr.trim().split('\n')[0] ?? '';
        return reject(
          new VoiceError('unavailable', `${run.command} failed (exit ${code})`, { cause: new Error(detail) }),
        );
      }
      resolve(Buffer.concat(chunks));
    });
    child.stdin.end(run.input ?? new Uint8Array());
  });
}
