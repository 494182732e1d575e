import { fileURLToPath } from 'node:url';

/**
 * The path of a `file:` URL of this machine (percent-escapes decoded). A URL Node cannot make a
 * path of is the user's to correct: `fail` turns the reason into the caller's error, whose
 * message names the URL and says what to write instead.
 */
export function pathOfFileUrl(url: string, fail: (message: string, cause: unknown) => Error): string {
  try {
    const path = fileURLToPath(url);
    // No file has such a name; Node would refuse it later with an error that names no URL.
    if (path.includes('\0'))
      throw Object.assign(new Error('its path holds a NUL byte (%00)'), { code: 'NUL' });
    return path;
  } catch (e) {
    // A host is the usual mistake (file://relative/x); anything else (an escaped '/') is the URL's own.
    const what =
      (e as { code?: unknown }).code === 'ERR_INVALID_FILE_URL_HOST'
        ? 'is not a file URL of this machine'
        : 'is not a usable file URL';
    throw fail(`'${url}' ${what} (${(e as Error).message}); write file:///absolute/path, or a plain path`, e);
  }
}
