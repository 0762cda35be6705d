/**
 * A TCP proxy for network faults in tests and `pnpm load`: listens on a port of its own and forwards
 * each connection to a target, with
 *   - latency: every chunk is held `latencyMs` in each direction (order kept per direction);
 *   - cut(): every open connection is reset (RST, as a dead link or a firewall's reject looks to the
 *     peers) and the port stops listening, so new connections are refused;
 *   - restore(): listens again on the same port.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  target: { host: string; port: number };
  /** the port to listen on (0: any free one) */
  port?: number;
  host?: string;
}

/** Chunks of one direction, each released `latencyMs` after it arrived, in order. */
class DelayedPipe {
  private readonly queue: { chunk: Buffer; due: number }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: Socket,
    private readonly latency: () => number,
  ) {}

  push(chunk: Buffer): void {
    const ms = this.latency();
    if (ms <= 0 && this.queue.length === 0) {
      this.to.write(chunk);
      return;
    }
    this.queue.push({ chunk, due: Date.now() + ms });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = Date.now();
        while (this.queue.length > 0 && this.queue[0]!.due <= now) {
          if (!this.to.destroyed) this.to.write(this.queue.shift()!.chunk);
          else this.queue.shift();
        }
        this.schedule();
      },
      Math.max(0, this.queue[0]!.due - Date.now()),
    );
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

export class TcpProxy {
  /** added to each direction of every connection, from the next chunk on */
  latencyMs = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pipes = new Set<DelayedPipe>();
  private listening: Promise<void> | undefined;
  /** connections accepted since start */
  accepted = 0;

  private constructor(
    private readonly opts: TcpProxyOptions,
    public port: number,
  ) {}

  static async start(opts: TcpProxyOptions): Promise<TcpProxy> {
    const p = new TcpProxy(opts, opts.port ?? 0);
    await p.restore();
    return p;
  }

  get cutOff(): boolean {
    return this.server === undefined;
  }

  /** Listens (again) on the proxy's port. */
  restore(): Promise<void> {
    if (this.server !== undefined) return this.listening!;
    const server = createServer({ noDelay: true }, (client) => this.forward(client));
    this.server = server;
    this.listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.opts.host ?? '127.0.0.1', () => {
        const a = server.address();
        if (a && typeof a === 'object') this.port = a.port;
        server.off('error', reject);
        resolve();
      });
    });
    return this.listening;
  }

  private forward(client: Socket): void {
    this.accepted++;
    const upstream = connect({ host: this.opts.target.host, port: this.opts.target.port, noDelay: true });
    const up = new DelayedPipe(upstream, () => this.latencyMs);
    const down = new DelayedPipe(client, () => this.latencyMs);
    this.pipes.add(up).add(down);
    this.sockets.add(client).add(upstream);
    client.on('data', (c: Buffer) => up.push(c));
    upstream.on('data', (c: Buffer) => down.push(c));
    const close = (s: Socket, other: Socket, pipe: DelayedPipe) => {
      s.on('error', () => other.destroy());
      s.on('close', () => {
        this.sockets.delete(s);
        this.pipes.delete(pipe);
        pipe.clear();
        other.destroy();
      });
    };
    close(client, upstream, down);
    close(upstream, client, up);
  }

  /** Resets every connection and stops listening: new connections are refused until restore(). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.listening = undefined;
    for (const p of this.pipes) p.clear();
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
