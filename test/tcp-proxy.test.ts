/**
 * The test harness's TCP proxy (test/support/tcp-proxy.ts), against an echo server: it forwards,
 * adds latency both ways, and a cut resets open connections and refuses new ones until restored.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy } from './support/tcp-proxy.js';

let echo: Server;
let echoPort = 0;
beforeAll(async () => {
  echo = createServer((s) => {
    s.on('error', () => {}); // the proxy's cut resets this side too
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => echo.close(() => r())));

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `text` and resolves with the echo and how long it took. */
function roundTrip(s: Socket, text: string): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let reply = '';
    const onData = (c: Buffer) => {
      reply += c.toString();
      if (reply.length >= text.length) {
        s.off('data', onData);
        resolve({ reply, ms: performance.now() - t0 });
      }
    };
    s.on('data', onData);
    s.write(text);
  });
}

describe('the TCP proxy', () => {
  it('forwards, adds latency in each direction, cuts (reset + refuse) and restores', async () => {
    const proxy = await TcpProxy.start({ target: { host: '127.0.0.1', port: echoPort } });
    try {
      const s = await open(proxy.port);
      expect((await roundTrip(s, 'hello')).reply).toBe('hello');

      proxy.latencyMs = 100;
      const slow = await roundTrip(s, 'slow one');
      expect(slow.reply).toBe('slow one');
      expect(slow.ms).toBeGreaterThanOrEqual(190); // 100 ms each way
      proxy.latencyMs = 0;

      const closed = new Promise<string>((resolve) => {
        s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        s.once('close', () => resolve('closed'));
      });
      await proxy.cut();
      expect(await closed).toBe('ECONNRESET');
      await expect(open(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

      await proxy.restore();
      const again = await open(proxy.port);
      expect((await roundTrip(again, 'back')).reply).toBe('back');
      again.destroy();
    } finally {
      await proxy.close();
    }
  });
});
