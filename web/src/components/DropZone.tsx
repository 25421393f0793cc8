// Files dragged over the area show where they will go; dropped, they go to `onFiles`.
import { useRef, useState, type ReactNode } from "react";

export function DropZone({ onFiles, children }: { onFiles: (files: File[]) => void; children: ReactNode }) {
  const [over, setOver] = useState(false);
  const depth = useRef(0); // dragenter/leave fire for every child crossed
  const carriesFiles = (event: React.DragEvent) => Array.from(event.dataTransfer.types).includes("Files");
  return (
    <div
      className="drop-zone"
      onDragEnter={(event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        depth.current += 1;
        setOver(true);
      }}
      onDragOver={(event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      }}
      onDragLeave={() => {
        depth.current = Math.max(0, depth.current - 1);
        if (depth.current === 0) setOver(false);
      }}
      onDrop={(event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        depth.current = 0;
        setOver(false);
        onFiles(Array.from(event.dataTransfer.files));
      }}
    >
      {children}
      {over && (
        <div className="drop-overlay" data-testid="drop-overlay" aria-hidden="true">
          Drop files to attach them
        </div>
      )}
    </div>
  );
}
