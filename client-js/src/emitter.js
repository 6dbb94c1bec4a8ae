// @ts-check
/**
 * A small event target: `addEventListener`, `removeEventListener` and `on<type>` properties,
 * like the browser's WebSocket. A listener that throws is reported (as an uncaught error) and
 * does not stop the others, nor the client.
 * @template {Record<string, object>} M  event type -> event
 */
export class Emitter {
  /** @type {{[K in keyof M]?: Array<(event: M[K]) => void>}} */
  #listeners = {};

  /**
   * @template {keyof M & string} K
   * @param {K} type
   * @param {(event: M[K]) => void} listener
   */
  addEventListener(type, listener) {
    const list = (this.#listeners[type] ||= []);
    if (list.indexOf(listener) < 0) list.push(listener);
  }

  /**
   * @template {keyof M & string} K
   * @param {K} type
   * @param {(event: M[K]) => void} listener
   */
  removeEventListener(type, listener) {
    this.#listeners[type] = this.#listeners[type]?.filter((l) => l != listener);
  }

  /**
   * Dispatch an event of `type` with `fields`.
   * @protected
   * @template {keyof M & string} K
   * @param {K} type
   * @param {Omit<M[K], "type" | "target">} fields
   */
  _emit(type, fields) {
    const event = /** @type {M[K]} */ ({ type, target: this, ...fields });
    const handler = /** @type {any} */ (this)["on" + type];
    for (const listener of [handler, ...(this.#listeners[type] || [])]) {
      try {
        listener?.call(this, event);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
