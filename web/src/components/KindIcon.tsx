import type { MediaKind } from "../lib/types";

// Inline SVG: no icon font or sprite to fetch, nothing for the CSP to allow.
const PATHS: Record<MediaKind, string> = {
  image: "M4 5h16v14H4z M4 16l5-5 4 4 3-3 4 4 M15 9.5a1.5 1.5 0 1 0 0.01 0",
  video: "M4 6h11v12H4z M15 10l5-3v10l-5-3",
  document: "M6 3h8l4 4v14H6z M14 3v4h4 M9 12h6 M9 16h6",
};

export function KindIcon({ kind }: { kind: MediaKind }) {
  return (
    <svg className="kind-icon" viewBox="0 0 24 24" width="32" height="32" aria-hidden="true" focusable="false">
      <path d={PATHS[kind]} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinejoin="round" />
    </svg>
  );
}
