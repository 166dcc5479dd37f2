// A test node that streams numbered block.import messages (one every `intervalMs`), announces itself with
// system.connected on every (re)connection, and reconnects whenever its connection is lost.
import WebSocket from 'ws';

export class StreamingNode {
  private ws: WebSocket | null = null;
  private seq = 0;
  private stopped = false;
  /** height → when its send completed (written to the socket). */
  readonly sentAt = new Map<number, number>();
  reconnects = 0;
  connected = false;

  constructor(
    private readonly url: string,
    /** Heights are base + 1, base + 2, …: unique across nodes when bases are far apart. */
    private readonly base: number,
    private readonly options: { networkId?: string; intervalMs?: number; reconnectMs?: number } = {},
  ) {}

  start(): void {
    const ws = new WebSocket(this.url, { perMessageDeflate: false, autoPong: false });
    this.ws = ws;
    ws.on('error', () => {});
    ws.on('open', () => {
      this.connected = true;
      if (this.options.networkId) {
        ws.send(Buffer.from(`{"id":1,"payload":{"authority":false,"chain":"Test","msg":"system.connected","name":"${this.options.networkId}","network_id":"${this.options.networkId}","startup_time":"1624410117123","version":"test"},"ts":"${now()}"}`), { binary: true });
      }
      const timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return clearInterval(timer);
        const height = this.base + ++this.seq;
        ws.send(Buffer.from(`{"id":1,"ts":"${now()}","payload":{"height":${height},"msg":"block.import"}}`), { binary: true }, (error) => {
          if (!error) this.sentAt.set(height, Date.now());
        });
      }, this.options.intervalMs ?? 20);
    });
    ws.on('close', () => {
      this.connected = false;
      if (this.stopped) return;
      this.reconnects++;
      setTimeout(() => this.start(), this.options.reconnectMs ?? 200);
    });
  }

  /** Stops streaming; the connection ends abruptly, as when a real node exits. */
  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

function now(): string {
  return new Date().toISOString().replace('Z', '+00:00');
}
