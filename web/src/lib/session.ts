// Development sign-in: `make run` prints http://127.0.0.1:8000/#token=…; the page takes the token
// from the fragment, keeps it in sessionStorage (this tab only), and drops it from the address
// bar and the history. A host app passes its own token function to the components instead.
const KEY = "chat-media:token";

export function takeToken(): string | null {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    sessionStorage.setItem(KEY, given);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
  }
  return sessionStorage.getItem(KEY);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}

/** The user id a token names (its `sub`), read without verifying: the service verifies. */
export function subjectOf(token: string): string | null {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))) as {
      sub?: unknown;
    };
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}
