// The control token: taken once from `?token=` and kept in sessionStorage, so it does not
// linger in the address bar, in history, or in a screenshot of the page.

const KEY = "mkos.token";

export function takeToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl !== null && fromUrl !== "") {
    try {
      sessionStorage.setItem(KEY, fromUrl);
    } catch {
      // Storage can be refused (private mode); the token still lives for this page.
    }
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}
