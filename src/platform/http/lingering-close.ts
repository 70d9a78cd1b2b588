import type { IncomingMessage } from 'node:http';

/** How long a refused upload's connection keeps reading (and dropping) what the client still sends. */
export const LINGER_MS = 5_000;

/**
 * Lingering close, as nginx's `lingering_close`: a response that refuses a
 * body still arriving (413, 415) is sent with `Connection: close`, and Node
 * would then close the socket while the client is still writing. Bytes that
 * arrive at a closed socket make the kernel answer with a reset, and a
 * client that is busy writing sees that reset (EPIPE, ECONNRESET) instead of
 * the refusal it was sent. Here the socket only half-closes once the
 * response is out, and the rest of the refused body is read and dropped
 * until the client stops sending or `LINGER_MS` passes.
 */
export function lingerOnClose(request: IncomingMessage, lingerMs = LINGER_MS): void {
  const socket = request.socket;
  if (socket.destroyed) return;
  // Node's HTTP server calls destroySoon() once a `Connection: close` response has finished.
  socket.destroySoon = function lingeringClose() {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', () => socket.destroy());
    // A body parser that gave up may have left the request paused: drop the rest instead.
    request.unpipe();
    request.resume();
  };
}
