// Reads the captured node traffic in test/fixtures/ and provides a minimal websocket test node.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

/** test/fixtures/: the two captures (see test/fixtures/README.md). */
export function fixturePath(name: 'telemetry_messages.json' | 'tetcore_v2_session.jsonl'): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** The 16 flat V1 messages captured in 2020, each as its original JSON object. */
export function v1Messages(): Array<Record<string, unknown>> {
  return JSON.parse(readFileSync(fixturePath('telemetry_messages.json'), 'utf8'));
}

/** One Tetcore node's session: V2 envelope frames, exactly as sent (one per line). */
export function v2SessionFrames(): string[] {
  return readFileSync(fixturePath('tetcore_v2_session.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

export interface TestNode {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  /** Sends each frame as one binary message (as real nodes do) and waits until written to the socket. */
  send(...frames: Array<string | Buffer>): Promise<void>;
  close(): Promise<void>;
}

/** Connects like a real node: no compression, never answers pings. */
export async function connectNode(url: string, options: { polite?: boolean; headers?: Record<string, string> } = {}): Promise<TestNode> {
  const ws = new WebSocket(url, { perMessageDeflate: false, autoPong: options.polite ?? false, headers: options.headers });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { statusCode: res.statusCode })));
    ws.once('error', reject);
  });
  return {
    ws,
    closed,
    async send(...frames) {
      for (const frame of frames) {
        await new Promise<void>((resolve, reject) => ws.send(typeof frame === 'string' ? Buffer.from(frame) : frame, { binary: true }, (err) => (err ? reject(err) : resolve())));
      }
    },
    async close() {
      if (ws.readyState === WebSocket.OPEN) ws.close();
      await closed;
    },
  };
}
