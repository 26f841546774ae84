// Reading the WhoAmI answer (the user the token belongs to): the one server answer the client reads before the
// engine is loaded.
import { xrmError } from "./errors.js";

const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

const guid = (v) => (typeof v === "string" && GUID.test(v) ? v.replace(/[{}]/g, "").toLowerCase() : null);

/**
 * The session of a WhoAmI answer `{UserId, BusinessUnitId, ...}`: lower-case ids. An answer without a UserId GUID
 * (a proxy page, another API) is a ServerError that says so, not a TypeError.
 */
export function sessionFromWhoAmI(who, teamIds = []) {
  const userId = guid(who?.UserId);
  if (!userId) {
    // Described, not stringified: a hostile answer may nest deeper than JSON.stringify can recurse.
    const shown = Array.isArray(who)
      ? "an array"
      : who && typeof who === "object"
        ? `an object with ${Object.keys(who).slice(0, 10).join(", ") || "no fields"}`
        : String(who).slice(0, 100);
    throw xrmError("ServerError", `the WhoAmI answer holds no UserId GUID: ${shown}`);
  }
  return { userId, businessUnitId: guid(who.BusinessUnitId) ?? undefined, teamIds };
}

/**
 * The parsed body of a WhoAmI response. A body that is not JSON (a captive portal's sign-in page, a proxy's error
 * page answered with 200) means the server is not really reachable: NetworkUnavailable, so the client starts from
 * the device as it does without a network.
 */
export async function readWhoAmI(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw xrmError("NetworkUnavailable", `Network or Service Unavailable: the WhoAmI answer is not JSON (a captive portal or proxy page?): ${text.slice(0, 120)}`);
  }
}
