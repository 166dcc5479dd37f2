// A websocket handshake as the access tests need it: from a chosen loopback address, with chosen headers
// (Origin, X-Forwarded-For), resolving to the open socket or to the HTTP refusal with its JSON body.
import WebSocket from 'ws';

export type HandshakeResult = { open: true; ws: WebSocket; close(): Promise<void> } | { open: false; status: number; body: Record<string, unknown> };

export async function handshake(url: string, options: { headers?: Record<string, string>; localAddress?: string; origin?: string } = {}): Promise<HandshakeResult> {
  const ws = new WebSocket(url, { perMessageDeflate: false, headers: options.headers, localAddress: options.localAddress, origin: options.origin });
  ws.on('error', () => {});
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  return new Promise<HandshakeResult>((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        open: true,
        ws,
        async close() {
          if (ws.readyState === WebSocket.OPEN) ws.close();
          await closed;
        },
      }),
    );
    ws.once('unexpected-response', (_request, response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(text);
        } catch {
          body = { text };
        }
        resolve({ open: false, status: response.statusCode ?? 0, body });
        ws.terminate();
      });
    });
    ws.once('error', reject);
  });
}

/** Asserts the handshake was refused and returns the status and the body's `code`. */
export function refusal(result: HandshakeResult): { status: number; code: unknown } {
  if (result.open) {
    void result.close();
    throw new Error('the handshake was accepted; a refusal was expected');
  }
  return { status: result.status, code: result.body.code };
}

/** Asserts the handshake was accepted and returns it. */
export function accepted(result: HandshakeResult): Extract<HandshakeResult, { open: true }> {
  if (!result.open) throw new Error(`the handshake was refused with ${result.status} ${JSON.stringify(result.body)}; acceptance was expected`);
  return result;
}

/** The value of a counter with one label in the Prometheus text of /metrics (0 when absent). */
export async function counterValue(metricsUrl: string, name: string, label: string, value: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${label}="${value}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** Sends one valid message on an accepted ingestion socket: its connection row is written with its first message. */
export async function sendOne(socket: { ws: WebSocket }): Promise<void> {
  await new Promise<void>((resolve, reject) => socket.ws.send('{"msg":"handshake.test","ts":"2021-06-23T01:02:03Z"}', (e) => (e ? reject(e) : resolve())));
}
