import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PLATFORMS } from '#platforms/types';
import { SANDBOX_READY_FILE_ENV, waitForReadyFile } from '../sandbox/ready-file';
import { median } from './stats';

/**
 * `npm start` as a person meets it: time from spawning its entry (tsx bin/sandbox.ts) to its ready file on a warm
 * install, and the resident memory of the sandbox and every process under it after a run of chat turns against the
 * default generated llama demo model. Linux only (reads /proc).
 */
export interface SandboxStartupOptions {
  readonly rootDir: string;
  /** Measured start-ups; one unmeasured warm-up start comes first. @default 3 */
  readonly runs?: number;
  /** Chat turns before the memory is read. @default 20 */
  readonly turns?: number;
  /** Epoch ms after which no further chat turn starts. */
  readonly deadline?: number;
  readonly progress?: (line: string) => void;
}

export interface ProcessRss {
  readonly pid: number;
  readonly command: string;
  readonly rssKb: number;
}

export interface SandboxStartupResult {
  readonly warmupMs: number;
  readonly startupMs: readonly number[];
  readonly medianStartupMs: number;
  /** What the sandbox printed as its own start-up time (process uptime at ready), per measured run. */
  readonly reportedReadyS: readonly string[];
  readonly rssAtReady: readonly ProcessRss[];
  readonly rssAfterTurns: readonly ProcessRss[];
  readonly turnsAnswered: number;
  readonly turnsPlanned: number;
  readonly medianTurnMs: number;
}

interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly readyMs: number;
  readonly reportedReadyS: string;
}

const MEMBERS = ['alice', 'bob', 'carol', 'dave'];
const READY_TIMEOUT_MS = 90_000;
const TURN_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export async function runSandboxStartupBench(options: SandboxStartupOptions): Promise<SandboxStartupResult> {
  const progress = options.progress ?? (() => undefined);
  const runs = options.runs ?? 3;
  const turnsPlanned = options.turns ?? 20;

  progress('sandbox start-up: warm-up start (writes the demo model if absent)');
  const warmup = await startSandbox(options.rootDir);
  await stopSandbox(warmup.child);

  const measured: Started[] = [];
  for (let run = 1; run <= runs; run++) {
    progress(`sandbox start-up: run ${run}/${runs}`);
    const started = await startSandbox(options.rootDir);
    measured.push(started);
    if (run < runs) await stopSandbox(started.child);
  }
  const last = measured[measured.length - 1]!;
  try {
    const rssAtReady = treeRss(last.child.pid!);
    progress(`sandbox start-up: ${turnsPlanned} chat turns`);
    const turnMs: number[] = [];
    for (let turn = 0; turn < turnsPlanned; turn++) {
      if (options.deadline !== undefined && Date.now() > options.deadline) break;
      turnMs.push(await chatTurn(last.url, turn));
    }
    return {
      warmupMs: warmup.readyMs,
      startupMs: measured.map((s) => s.readyMs),
      medianStartupMs: median(measured.map((s) => s.readyMs)),
      reportedReadyS: measured.map((s) => s.reportedReadyS),
      rssAtReady,
      rssAfterTurns: treeRss(last.child.pid!),
      turnsAnswered: turnMs.length,
      turnsPlanned,
      medianTurnMs: turnMs.length > 0 ? median(turnMs) : Number.NaN,
    };
  } finally {
    await stopSandbox(last.child);
  }
}

export function sandboxStartupReport(result: SandboxStartupResult): string {
  const mb = (kb: number) => (kb / 1024).toFixed(0);
  const total = (rows: readonly ProcessRss[]) => rows.reduce((sum, r) => sum + r.rssKb, 0);
  const rows: [string, string][] = [
    [
      `spawn → ready file, median of ${result.startupMs.length}`,
      `${(result.medianStartupMs / 1000).toFixed(2)} s (runs ${result.startupMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s; unmeasured warm-up ${(result.warmupMs / 1000).toFixed(2)} s)`,
    ],
    ['"ready in" the sandbox printed', result.reportedReadyS.map((s) => `${s} s`).join(', ')],
    ['resident memory at ready', `${mb(total(result.rssAtReady))} MB`],
    [
      `resident memory after ${result.turnsAnswered}/${result.turnsPlanned} chat turns`,
      `${mb(total(result.rssAfterTurns))} MB = ${result.rssAfterTurns.map((p) => `${p.command} ${mb(p.rssKb)}`).join(' + ')}`,
    ],
    ['chat turn (event → delivered reply), median', `${result.medianTurnMs.toFixed(0)} ms`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    'Sandbox (npm start entry, generated llama demo model, warm install; RSS = the process and all its children)',
    ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`),
  ].join('\n');
}

/**
 * Spawns `npm start`'s entry in its own process group on a free port; resolves once it wrote its ready file
 * (`SANDBOX_READY_FILE`) and printed its "ready in" line.
 */
async function startSandbox(rootDir: string): Promise<Started> {
  const readyDir = mkdtempSync(path.join(tmpdir(), 'groupgate-bench-sandbox-'));
  const readyFile = path.join(readyDir, 'ready.json');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/sandbox.ts'], {
    cwd: rootDir,
    env: { ...process.env, PORT: '0', POWERTOOLS_LOG_LEVEL: 'WARN', [SANDBOX_READY_FILE_ENV]: readyFile },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // Its own process group outlives this one: if the bench is aborted (process.exit), take the sandbox along.
  const killOnExit = () => killGroup(child);
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  void exited.then(() => {
    process.off('exit', killOnExit);
    rmSync(readyDir, { recursive: true, force: true });
  });
  const output: string[] = [];
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  // The sandbox prints its own start-up time before it writes the ready file.
  const reportedReadyS = new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      const reported = /^ready in ([\d.]+) s/.exec(line)?.[1];
      if (reported) resolve(reported);
    }),
  );
  try {
    const { url } = await waitForReadyFile(readyFile, { timeoutMs: READY_TIMEOUT_MS, exited });
    const readyMs = performance.now() - spawnedAt;
    return { child, url, readyMs, reportedReadyS: await reportedReadyS };
  } catch (err) {
    killGroup(child);
    throw new Error(`${(err as Error).message}:\n${output.join('\n')}`);
  }
}

/** Ctrl-C's way out (SIGINT to the group); SIGKILL if the parts have not stopped in time. */
function stopSandbox(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => killGroup(child), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    process.kill(-child.pid!, 'SIGINT');
  });
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** One member's question through the emulator and the whole pipeline; resolves with the time to its reply. */
async function chatTurn(baseUrl: string, turn: number): Promise<number> {
  const platform = PLATFORMS[turn % PLATFORMS.length]!;
  const query = `platform=${platform}&chat=bench-room`;
  const before = ((await (await fetch(`${baseUrl}/_sandbox/messages?${query}`)).json()) as unknown[]).length;
  const startedAt = performance.now();
  const res = await fetch(`${baseUrl}/_sandbox/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      platform,
      chatId: 'bench-room',
      userId: MEMBERS[turn % MEMBERS.length],
      // A different question each turn, so every turn reaches the model rather than the FAQ cache.
      text: `Question ${turn}: how do I request access to the staging environment?`,
    }),
  });
  const sent = (await res.json()) as { webhookStatus?: number };
  if (sent.webhookStatus !== 200) throw new Error(`turn ${turn}: webhook answered ${sent.webhookStatus}`);
  const until = Date.now() + TURN_TIMEOUT_MS;
  for (;;) {
    const list = (await (await fetch(`${baseUrl}/_sandbox/messages?${query}`)).json()) as unknown[];
    if (list.length > before) return performance.now() - startedAt;
    if (Date.now() > until) throw new Error(`turn ${turn}: no reply in ${TURN_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** VmRSS of `rootPid` and every process below it, from /proc. */
function treeRss(rootPid: number): ProcessRss[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProc(`/proc/${entry}/stat`);
    // The command name may contain spaces and parentheses: fields resume after the last ')'.
    const ppid = Number(stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++)
    for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  return tree.flatMap((pid) => {
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(readProc(`/proc/${pid}/status`) ?? '')?.[1]);
    return Number.isFinite(rssKb) ? [{ pid, command: describe(pid), rssKb }] : [];
  });
}

/** A short label for a sandbox process from its command line. */
function describe(pid: number): string {
  const args = (readProc(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean);
  if (args.some((a) => a.includes('fauxqs'))) return 'fauxqs';
  if (args.some((a) => a.endsWith('bin/sandbox.ts'))) return 'sandbox';
  return path.basename(args[0] ?? `pid ${pid}`);
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
