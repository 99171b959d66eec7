// The one Docker Desktop client of the extension, and helpers to present its outcomes.
import { createDockerDesktopClient } from "@docker/extension-api-client";

export const ddClient = createDockerDesktopClient();

/** The name of the sample's host binary (host.binaries in metadata.json). */
export const SAMPLE_CLI = "sample-cli";

/**
 * A readable one-liner for whatever a ddClient call rejected with: a ServiceError (HTTP status
 * and body), an ExecResult (exit code and stderr), or a plain Error.
 * @param {any} error
 * @returns {string}
 */
export function describeError(error) {
  if (error && typeof error.statusCode === "number") {
    return `HTTP ${error.statusCode} ${error.name}: ${error.message}`;
  }
  if (error && typeof error.stderr === "string" && "code" in error) {
    const detail = error.stderr.trim() || error.stdout?.trim() || "no output";
    return `exit code ${error.code}: ${detail}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
