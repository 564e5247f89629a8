/**
 * The built-ins a worker's channel to the host uses, taken when this module is first evaluated: in a worker, that
 * is before the bundle's code is imported (the worker's entry imports this module statically; job code comes
 * later, through import()). Job code shares the worker's realm and may replace JSON.stringify, Map or Array methods,
 * Promise.prototype.then or MessagePort.prototype.postMessage; what it replaces afterwards does not reach these.
 * (Node's own internals are written against "primordials" for the same reason.)
 *
 * Not covered: accessors job code defines on built-in prototypes (a setter for '0' on Array.prototype catches even
 * a plain assignment) and messages it posts on the worker's port itself. The host reads everything a worker sends
 * as untrusted (wire-read.ts), so those end the runs concerned, saying why; they cannot leave a run RUNNING.
 */
import { MessagePort } from 'node:worker_threads';

const { apply } = Reflect;
const { defineProperty, getOwnPropertyDescriptor } = Object;

export const stringify = JSON.stringify;
export const parse = JSON.parse;
export const now = Date.now;
export const setImmediateSafe = setImmediate;
export const clearImmediateSafe = clearImmediate;
export const setTimeoutSafe = setTimeout;

const portPostMessage = MessagePort.prototype.postMessage;
/** port.postMessage(message), whatever job code did to MessagePort.prototype or to the port. */
export function postOn(port: MessagePort, message: unknown): void {
  apply(portPostMessage, port, [message]);
}

const promiseThen = Promise.prototype.then;
/** promise.then(onValue, onError) through the original then. */
export function settle<T>(promise: Promise<T>, onValue: (value: T) => void, onError: (err: unknown) => void): void {
  apply(promiseThen, promise, [onValue, onError]);
}

const arrayPush = Array.prototype.push;
export function append<T>(list: T[], item: T): void {
  apply(arrayPush, list, [item]);
}

const stringSlice = String.prototype.slice;
export function sliceText(text: string, start: number, end: number): string {
  return apply(stringSlice, text, [start, end]) as string;
}

/**
 * A Map whose methods are the originals: each is an own property of SafeMap.prototype, found before Map.prototype.
 * forEach iterates inside V8, so iterating does not go through the map iterator's replaceable `next` either.
 */
export class SafeMap<K, V> extends Map<K, V> {}
for (const name of ['get', 'set', 'has', 'delete', 'clear', 'forEach', 'size'] as const) {
  defineProperty(SafeMap.prototype, name, getOwnPropertyDescriptor(Map.prototype, name)!);
}

/** UTF-8 length of a text, as the host will count it in the run's log. */
export const utf8Length: (text: string) => number = Buffer.byteLength;
