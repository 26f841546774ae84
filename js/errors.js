// Errors raised on the JS side, in the same shape as the engine's: an Error with `errorCode` (the positive decimal
// of the Dataverse hex code, as Xrm.WebApi error callbacks report it) and `errorName`. Codes: docs/ERRORS.md.

export const CODES = {
  RecordNotFound: 0x80040217,
  InvalidArgument: 0x80040203,
  InvalidQuery: 0x80060888,
  TableNotAvailableOffline: 0x80a00001,
  NetworkUnavailable: 0x80a00007,
  ServerError: 0x80a00008,
  HookRejected: 0x80040265,
  HookDepthExceeded: 0x80044182,
};

/** An Error with `errorCode` and `errorName`. */
export function xrmError(name, message, extra = {}) {
  const e = new Error(message);
  e.name = "XrmOfflineError";
  e.errorCode = CODES[name] ?? 0;
  e.errorName = name;
  Object.assign(e, extra);
  return e;
}

/**
 * The error of a failed Web API response: Dataverse's `{"error":{"code":"0x80040217","message":"..."}}` becomes an
 * Error with errorCode 2147746327 and that message; `status` and `raw` keep the details.
 */
export async function fromResponse(res) {
  let body = null;
  const text = await res.text().catch(() => "");
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const err = body && body.error ? body.error : null;
  const hex = err && typeof err.code === "string" && /^0x[0-9a-f]+$/i.test(err.code) ? err.code : null;
  const e = xrmError(hex ? "Dataverse" : "ServerError", err?.message || `${res.status} ${res.statusText || "HTTP error"}`.trim(), {
    status: res.status,
    raw: body ?? text,
  });
  if (hex) e.errorCode = parseInt(hex, 16);
  const retryAfter = res.headers.get("retry-after");
  if (retryAfter !== null) e.retryAfter = Number(retryAfter);
  return e;
}
