// Change notifications between processes: "something changed, reload it".
// Messages are hints, not data: a subscriber that misses one catches up on its
// own (the flags cache also reloads every 30 s), so delivery is at most once
// and a publish that fails is logged, never fatal.

export type MessageHandler = (message: string) => void;

export interface SubscribeOptions {
  /** Called after a lost connection is re-established: messages sent meanwhile may have been missed. */
  onResync?: () => void;
}

export interface ChangeBus {
  readonly kind: 'postgres' | 'redis';
  /** Announces a change to every subscribed process, this one included. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Starts delivering the channel's messages to `handler`. Resolves once the
   * first attempt to listen has settled; if it failed, the bus keeps
   * reconnecting in the background. Returns the function that unsubscribes.
   */
  subscribe(channel: string, handler: MessageHandler, options?: SubscribeOptions): Promise<() => void>;
  /** Stops listening and closes the bus's own connections. */
  close(): Promise<void>;
}

/** Channel names travel unquoted in LISTEN, so they are plain identifiers. */
export function assertChannelName(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
}

/** Backoff between reconnection attempts: 250 ms doubling to 10 s. */
export const reconnectDelayMs = (failures: number) => Math.min(10_000, 250 * 2 ** failures);

/** Handlers by channel; one throwing handler does not starve the others. */
export function createHandlerRegistry(onHandlerError: (error: unknown, channel: string) => void) {
  const handlers = new Map<string, Set<{ handler: MessageHandler; options: SubscribeOptions }>>();
  return {
    channels: () => [...handlers.keys()],
    has: (channel: string) => (handlers.get(channel)?.size ?? 0) > 0,
    add(channel: string, handler: MessageHandler, options: SubscribeOptions) {
      const entry = { handler, options };
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(entry);
      return () => {
        set.delete(entry);
        if (set.size === 0 && handlers.get(channel) === set) handlers.delete(channel);
      };
    },
    deliver(channel: string, message: string) {
      for (const { handler } of handlers.get(channel) ?? []) {
        try {
          handler(message);
        } catch (error) {
          onHandlerError(error, channel);
        }
      }
    },
    resync() {
      for (const [channel, set] of handlers) {
        for (const { options } of set) {
          try {
            options.onResync?.();
          } catch (error) {
            onHandlerError(error, channel);
          }
        }
      }
    },
    clear: () => handlers.clear(),
  };
}
