/**
 * The one module that talks to the backend: every call is same-origin `/api/...` with the session cookie.
 * A 401 anywhere (but the login form itself) calls the handler the app installs, which sends the user to
 * the login page keeping where they were.
 */

export interface ErrorItem {
  loc?: Array<string | number>;
  msg?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }

  /** The backend's `detail` list, each naming its field. */
  get detail(): ErrorItem[] {
    const detail = (this.body as { detail?: unknown } | null)?.detail;
    return Array.isArray(detail) ? (detail as ErrorItem[]) : [];
  }
}

let onUnauthorized: () => void = () => {};

export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function messageOf(status: number, body: unknown, fallback: string): string {
  if (body && typeof body === "object") {
    const b = body as { message?: unknown; detail?: unknown };
    if (typeof b.message === "string") return b.message;
    if (typeof b.detail === "string") return b.detail;
    if (Array.isArray(b.detail) && b.detail[0]) {
      const first = b.detail[0] as ErrorItem;
      const where = (first.loc ?? []).join(".");
      return where ? `${where}: ${first.msg}` : String(first.msg);
    }
  }
  return `${status} ${fallback}`;
}

export interface RequestOptions {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  /** Do not treat a 401 as "session gone" (the login form, the who-am-I probe). */
  allow401?: boolean;
  keepalive?: boolean;
  signal?: AbortSignal;
}

export async function request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const response = await fetch(path, {
    method,
    headers,
    body,
    credentials: "same-origin",
    keepalive: options.keepalive,
    signal: options.signal,
  });
  if (!response.ok && response.status !== 304) {
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    if (response.status === 401 && !options.allow401) onUnauthorized();
    throw new ApiError(response.status, messageOf(response.status, parsed, response.statusText), parsed);
  }
  return response;
}

export async function getJson<T>(path: string, options?: RequestOptions): Promise<T> {
  return (await request("GET", path, options)).json() as Promise<T>;
}

export async function sendJson<T>(method: string, path: string, json?: unknown, options?: RequestOptions): Promise<T> {
  const response = await request(method, path, { ...options, json });
  if (response.status === 204) return undefined as T;
  return response.json() as Promise<T>;
}
