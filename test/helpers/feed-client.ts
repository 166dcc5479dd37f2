// A /feed viewer and a feeding node for the feed tests: connects like a dashboard page, records every
// frame (and its size) as received, and can stop reading its socket like a client that never reads.
import WebSocket from 'ws';
import { waitFor, type TestServer } from './server.js';
import { connectNode, type TestNode } from './fixtures.js';

export interface Frame {
  peer_message?: { peer_id: string; msg: string };
  data?: Array<Record<string, unknown>>;
  error?: string;
}

export interface FeedClient {
  ws: WebSocket;
  frames: Frame[];
  /** UTF-8 size of each frame received, in order. */
  frameSizes: number[];
  closed: Promise<number>;
  /** The close code once closed. */
  closeCode(): number | null;
  send(request: Record<string, unknown>): void;
  /** Data elements received so far for (peer, msg), in arrival order. */
  data(peerId: string, msg: string): Array<Record<string, unknown>>;
  errors(): string[];
  /** Stops reading the TCP socket: the server's sends pile up in the OS, then in the server. */
  pauseReading(): void;
  resumeReading(): void;
  close(): Promise<void>;
}

export async function connectFeed(url: string, headers?: Record<string, string>): Promise<FeedClient> {
  const ws = new WebSocket(url, { headers });
  const frames: Frame[] = [];
  const frameSizes: number[] = [];
  ws.on('message', (raw: Buffer) => {
    frameSizes.push(raw.length);
    frames.push(JSON.parse(raw.toString()));
  });
  let closeCode: number | null = null;
  const closed = new Promise<number>((resolve) =>
    ws.on('close', (code) => {
      closeCode = code;
      resolve(code);
    }),
  );
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const socket = () => (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  return {
    ws,
    frames,
    frameSizes,
    closed,
    closeCode: () => closeCode,
    send: (request) => ws.send(JSON.stringify(request)),
    data: (peerId, msg) => frames.filter((f) => f.peer_message?.peer_id === peerId && f.peer_message.msg === msg).flatMap((f) => f.data ?? []),
    errors: () => frames.filter((f) => f.error !== undefined).map((f) => f.error as string),
    pauseReading: () => socket().pause(),
    resumeReading: () => socket().resume(),
    async close() {
      if (ws.readyState === WebSocket.OPEN) ws.close();
      await closed;
    },
  };
}

/** Waits until at least `n` elements of (peer, msg) arrived; returns them all. */
export async function dataAtLeast(feed: FeedClient, peerId: string, msg: string, n: number, what: string): Promise<Array<Record<string, unknown>>> {
  await waitFor(() => feed.data(peerId, msg).length >= n, what);
  return feed.data(peerId, msg);
}

/** RFC 3339 `ts` for a node message, `agoMs` before now. */
export const tsAgo = (agoMs: number) => new Date(Date.now() - agoMs).toISOString();
/** The naive UTC `start_time` a page sends. */
export const startTime = (agoMs: number) => new Date(Date.now() - agoMs).toISOString().slice(0, -1);

export interface FeedingNode {
  node: TestNode;
  peerId: string;
  send(msg: Record<string, unknown>, agoMs?: number): Promise<void>;
}

let peerCounter = 0;
/** A node connected to `/` whose connection row already carries its peer id (the feed finds rows by it). */
export async function startNode(server: TestServer, name: string): Promise<FeedingNode> {
  const peerId = `12D3KooWFeedTest${process.pid}x${++peerCounter}${name}`;
  const node = await connectNode(server.url('/'));
  await node.send(JSON.stringify({ msg: 'system.connected', name, chain: 'Feed Testnet', version: '1.0.0', authority: true, network_id: peerId, startup_time: String(Date.now()), implementation: 'Tetcore Node', ts: tsAgo(60_000) }));
  await waitFor(async () => (await server.db.query(`SELECT 1 FROM peer_connections WHERE peer_id = $1`, [peerId])).rows.length > 0, 'peer id recorded');
  return { node, peerId, send: (msg, agoMs = 0) => node.send(JSON.stringify({ ...msg, ts: tsAgo(agoMs) })) };
}
