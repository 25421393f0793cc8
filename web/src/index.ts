// What a host app imports: the two seed components and what they need.
export { MediaUpload, type MediaUploadHandle, type MediaUploadProps } from "./components/MediaUpload";
export { MediaPreview, type MediaPreviewProps } from "./components/MediaPreview";
export { DropZone } from "./components/DropZone";
export { ChatApi, ApiError, type TokenSource } from "./lib/api";
export type { Attachment, Message, Conversation, Policy } from "./lib/types";
