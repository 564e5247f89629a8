/**
 * Messages that reach a client (API errors, a run's error) never show where the host keeps its files: a path into a
 * bundle's folder becomes the path relative to the bundle (`config/app.properties`, `index.js:3:9`), the bundle
 * folder itself `.`, and what is left of the bundles or data folder their names in brackets. Errors from extraction,
 * config files, entry resolution and module loading name files by their absolute path (a stack trace as a file URL).
 */
import { pathToFileURL } from 'node:url';

export interface ServerFolders {
  readonly dataDir: string;
  readonly bundlesDir: string;
}

export type PathHider = (text: string) => string;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Both spellings of a folder: its path, and its file URL (stack traces of ES modules). */
function spellings(dir: string): string {
  return `(?:${escape(pathToFileURL(dir).href)}|${escape(dir)})`;
}

export function serverPathHider(folders: ServerFolders): PathHider {
  const bundles = spellings(folders.bundlesDir);
  // `<bundles>/<project id>/<sha>-<random>` and the private staging folders an upload is checked in.
  const bundleDir = `${bundles}/(?:\\d+|\\.staging)/[^/\\s'"\`]+`;
  const inBundle = new RegExp(`${bundleDir}/`, 'g');
  const bundleItself = new RegExp(bundleDir, 'g');
  const bundlesLeft = new RegExp(bundles, 'g');
  const dataLeft = new RegExp(spellings(folders.dataDir), 'g');
  return (text) =>
    text.replace(inBundle, '').replace(bundleItself, '.').replace(bundlesLeft, '<bundles>').replace(dataLeft, '<data>');
}
