/** Why a document was refused. Each is a property of the document's bytes, never of the code reading them. */
export type DocumentRejectionCode =
  | 'too_large'
  | 'unsupported_type'
  | 'not_text'
  | 'zip_bomb'
  | 'corrupt'
  | 'encrypted'
  | 'too_many_pages'
  | 'empty'
  | 'timeout'
  /** Extracted, but something about it cannot be stored (a heading or key over the store's byte limits). */
  | 'unstorable';

/**
 * The one error extraction rejects with for bad input. The message starts with the object key and says what was
 * wrong and, for a limit, the limit (e.g. "report.pdf: 812 pages, more than the limit of 500"); it never quotes the
 * document's content. A library's own failure is kept as `cause`.
 */
export class DocumentRejected extends Error {
  readonly name = 'DocumentRejected';

  constructor(
    readonly code: DocumentRejectionCode,
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The message of anything thrown, for wrapping a library's failure. Read by shape, not class: libraries throw
 * non-Errors, and errors from another realm (a VM context) are not `instanceof Error` here.
 */
export function messageOf(error: unknown): string {
  return propertyOf(error, 'message') ?? String(error);
}

/** `error.name` when it is a string (pdf.js tells its failures apart by name). */
export function nameOf(error: unknown): string | undefined {
  return propertyOf(error, 'name');
}

function propertyOf(error: unknown, property: 'message' | 'name'): string | undefined {
  if (typeof error !== 'object' || error === null || !(property in error)) return undefined;
  const value: unknown = Reflect.get(error, property);
  return typeof value === 'string' ? value : undefined;
}
