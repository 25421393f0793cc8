// The checks a file meets before it is sent: the same the service makes, from its own policy
// (GET /api/v1/media/policy). The service checks again and is the authority.
import { extensionOf, humanSize } from "./format";
import type { MediaKind, Policy } from "./types";

export function kindOf(name: string, policy: Policy): MediaKind | null {
  const extension = extensionOf(name);
  for (const kind of ["image", "video", "document"] as const) {
    if (policy.extensions[kind]?.includes(extension)) return kind;
  }
  return null;
}

export function allowedTypes(policy: Policy): string {
  return Object.values(policy.extensions)
    .flat()
    .sort()
    .map((extension) => `.${extension}`)
    .join(", ");
}

/** Why this file cannot be sent, in a sentence, or null when it may be. */
export function refusal(file: { name: string; size: number }, policy: Policy): string | null {
  if (kindOf(file.name, policy) === null) {
    const extension = extensionOf(file.name);
    return `${extension ? `.${extension} files are` : "Files without an extension are"} not accepted. Allowed: ${allowedTypes(policy)}.`;
  }
  if (file.size === 0) return "The file is empty.";
  if (file.size > policy.max_upload_size) {
    return `The file is ${humanSize(file.size)}; the limit is ${humanSize(policy.max_upload_size)}.`;
  }
  const remaining = policy.quota.remaining;
  if (remaining !== null && file.size > remaining) {
    return `Your storage has ${humanSize(remaining)} left; the file is ${humanSize(file.size)}.`;
  }
  return null;
}
