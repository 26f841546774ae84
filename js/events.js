// Listeners by event name, for client.sync and client.hooks.

/** `on(event, fn)` returns a function that removes `fn`; `emit` calls every listener, and a listener that throws
 * is reported (re-thrown in a microtask) without stopping the others or the caller. */
export class Emitter {
  constructor() {
    this.listeners = new Map();
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event)?.delete(fn);
  }

  emit(event, value) {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(value);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
