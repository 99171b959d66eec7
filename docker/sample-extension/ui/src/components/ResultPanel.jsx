import Box from "@mui/material/Box";
import Chip from "@mui/material/Chip";
import LinearProgress from "@mui/material/LinearProgress";
import Stack from "@mui/material/Stack";
import Typography from "@mui/material/Typography";

/**
 * The outcome of a call: nothing yet, running, a value, or an error.
 * @param {{state: {status: "idle" | "running" | "ok" | "error", label?: string, text?: string},
 *          placeholder?: string, testId: string, minHeight?: number}} props
 */
export function ResultPanel({ state, placeholder = "No call yet.", testId, minHeight = 72 }) {
  const { status, label, text } = state;
  return (
    <Box data-testid={testId} data-status={status}>
      {status === "running" && <LinearProgress sx={{ mb: 1 }} />}
      {label && (
        <Stack direction="row" sx={{ mb: 1 }}>
          <Chip
            size="small"
            variant="outlined"
            label={label}
            color={status === "error" ? "error" : status === "ok" ? "success" : "default"}
          />
        </Stack>
      )}
      <Box
        component="pre"
        data-testid={`${testId}-text`}
        sx={{
          m: 0,
          p: 1.5,
          minHeight,
          maxHeight: 220,
          overflow: "auto",
          borderRadius: 1,
          border: 1,
          borderColor: status === "error" ? "error.main" : "divider",
          bgcolor: "background.default",
          color: status === "error" ? "error.main" : "text.primary",
          fontFamily: "'Roboto Mono', ui-monospace, SFMono-Regular, Menlo, monospace",
          fontSize: 13,
          whiteSpace: "pre-wrap",
          wordBreak: "break-word",
        }}
      >
        {text ||
          (status === "idle" ? (
            <Typography component="span" variant="body2" color="text.secondary">
              {placeholder}
            </Typography>
          ) : (
            ""
          ))}
      </Box>
    </Box>
  );
}

export const IDLE = { status: "idle" };
