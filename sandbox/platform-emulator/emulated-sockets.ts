import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/**
 * What the long-connection emulators (`slack-socket.ts`, `dingtalk-stream.ts`, `feishu-ws.ts`) share: single-use
 * connection tickets, the WebSocket server attached to an HTTP server's `upgrade` event, the registry of open sockets,
 * and the test hooks to break them (abrupt drops, raw frames).
 */

/** Single-use tickets that expire: what the platforms' discovery calls hand out. */
export class TicketBook {
  private readonly tickets = new Map<string, number>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  issue(): string {
    const ticket = randomBytes(18).toString('base64url');
    this.tickets.set(ticket, this.now() + this.ttlMs);
    return ticket;
  }

  /** True once per ticket, within its lifetime; a spent, expired or unknown ticket is refused. */
  redeem(ticket: string | null): boolean {
    if (ticket === null) return false;
    const expiresAt = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    return expiresAt !== undefined && this.now() <= expiresAt;
  }
}

export interface EmulatedSocket {
  readonly id: number;
  readonly ws: WebSocket;
  readonly openedAt: number;
  /** The emulator announced a disconnect on it (it closes after the grace period). */
  retiring: boolean;
}

export interface SocketHubOptions {
  /** The upgrade path this hub answers, e.g. `/_emulator/slack/socket`. */
  readonly path: string;
  readonly now: () => number;
  /**
   * Accepts or refuses an upgrade by its URL (the ticket in its query); a refusal may add response headers (Feishu's
   * `Handshake-Status`).
   */
  authorize(url: URL):
    | { readonly ok: true }
    | {
        readonly ok: false;
        readonly status: number;
        readonly reason: string;
        readonly headers?: Readonly<Record<string, string>>;
      };
  onOpen(socket: EmulatedSocket): void;
  onText(socket: EmulatedSocket, text: string): void;
  /** Binary messages (Feishu's protobuf frames); ignored when absent. */
  onBinary?(socket: EmulatedSocket, bytes: Buffer): void;
  onClose(socket: EmulatedSocket): void;
}

export interface SocketHub {
  /** Takes an upgrade at its path; false (untouched) for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  open(): readonly EmulatedSocket[];
  /** Sockets that may receive new pushes: open and not retiring (all open ones when every one is retiring). */
  eligible(): readonly EmulatedSocket[];
  /** Upgrades accepted so far. */
  readonly accepted: number;
  /** The most sockets open at once so far. */
  readonly peak: number;
  /** Destroys every socket's TCP connection at once: no close frame, as a crashed server or a cut network would. */
  dropAll(): number;
  /** Sends text as is on every open socket (frames the protocol does not have). */
  sendRaw(text: string): void;
  close(): Promise<void>;
}

export function createSocketHub(options: SocketHubOptions): SocketHub {
  const server = new WebSocketServer({ noServer: true });
  const sockets = new Map<number, EmulatedSocket>();
  let nextId = 0;
  let accepted = 0;
  let peak = 0;
  const hub: SocketHub = {
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname !== options.path) return false;
      const verdict = options.authorize(url);
      if (!verdict.ok) {
        const extra = Object.entries(verdict.headers ?? {})
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('');
        socket.end(
          `HTTP/1.1 ${verdict.status} Refused\r\nConnection: close\r\nContent-Type: text/plain\r\n${extra}` +
            `Content-Length: ${Buffer.byteLength(verdict.reason)}\r\n\r\n${verdict.reason}`,
        );
        return true;
      }
      server.handleUpgrade(req, socket, head, (ws) => {
        accepted += 1;
        const entry: EmulatedSocket = { id: ++nextId, ws, openedAt: options.now(), retiring: false };
        sockets.set(entry.id, entry);
        peak = Math.max(peak, sockets.size);
        ws.on('message', (data: RawData, isBinary: boolean) => {
          if (!isBinary) options.onText(entry, rawText(data));
          else options.onBinary?.(entry, rawBuffer(data));
        });
        ws.on('error', () => undefined);
        ws.on('close', () => {
          sockets.delete(entry.id);
          options.onClose(entry);
        });
        options.onOpen(entry);
      });
      return true;
    },
    open: () => [...sockets.values()].filter((s) => s.ws.readyState === WebSocket.OPEN),
    eligible: () => {
      const open = hub.open();
      const fresh = open.filter((s) => !s.retiring);
      return fresh.length > 0 ? fresh : open;
    },
    get accepted() {
      return accepted;
    },
    get peak() {
      return peak;
    },
    dropAll() {
      const all = [...sockets.values()];
      for (const s of all) s.ws.terminate();
      return all.length;
    },
    sendRaw(text) {
      for (const s of hub.open()) s.ws.send(text);
    },
    async close() {
      const closing = [...sockets.values()].map(
        (s) =>
          new Promise<void>((resolve) => {
            s.ws.once('close', () => resolve());
            s.ws.terminate();
          }),
      );
      await Promise.all(closing);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return hub;
}

function rawText(data: RawData): string {
  return rawBuffer(data).toString('utf8');
}

function rawBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Sends a text frame if the socket is still open; false when it is not (the push is then not made). */
export function sendText(socket: EmulatedSocket, text: string): boolean {
  if (socket.ws.readyState !== WebSocket.OPEN) return false;
  socket.ws.send(text);
  return true;
}

/** The `Host` the discovery call reached, so the socket URL handed back points at the same server. */
export function hostOf(headers: Readonly<Record<string, string>>): string {
  return headers.host ?? '127.0.0.1';
}
