import { useCallback, useState } from "react";
import { describeError } from "../client.js";
import { IDLE } from "./ResultPanel.jsx";

/**
 * Runs an async ddClient call and keeps its outcome for a <ResultPanel>.
 * `present(value)` turns the resolved value into {label, text}.
 */
export function useCall(present) {
  const [state, setState] = useState(IDLE);
  const run = useCallback(
    async (call) => {
      setState({ status: "running", label: "running…" });
      try {
        setState({ status: "ok", ...present(await call()) });
      } catch (error) {
        setState({ status: "error", label: "failed", text: describeError(error) });
      }
    },
    [present],
  );
  return [state, run];
}
