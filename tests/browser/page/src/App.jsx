import { useState } from "react";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Card from "@mui/material/Card";
import CardContent from "@mui/material/CardContent";
import Chip from "@mui/material/Chip";
import Container from "@mui/material/Container";
import Stack from "@mui/material/Stack";
import Typography from "@mui/material/Typography";
import { describe } from "./testApi.js";

/** A labelled value of the host card. */
function Fact({ label, value, testId }) {
  return (
    <Box>
      <Typography variant="caption" color="text.secondary">
        {label}
      </Typography>
      <Typography variant="body1" fontWeight={500} data-testid={testId}>
        {value || "—"}
      </Typography>
    </Box>
  );
}

/** Shows the last outcome of a call: the value as JSON, or the error. */
function Outcome({ outcome, testId }) {
  if (!outcome) return null;
  return (
    <Box
      component="pre"
      data-testid={testId}
      data-ok={String(outcome.ok)}
      sx={{
        m: 0,
        mt: 2,
        p: 1.5,
        borderRadius: 1,
        fontSize: 13,
        overflow: "auto",
        bgcolor: "background.default",
        color: outcome.ok ? "text.primary" : "error.main",
        border: 1,
        borderColor: "divider",
      }}
    >
      {JSON.stringify(outcome.ok ? outcome.value : outcome.error, null, 2)}
    </Box>
  );
}

/** Runs a client call and keeps its outcome for <Outcome>. */
function useCall() {
  const [outcome, setOutcome] = useState(null);
  const run = async (call) => {
    try {
      setOutcome({ ok: true, value: describe(await call()) });
    } catch (error) {
      setOutcome({ ok: false, error: describe(error) });
    }
  };
  return [outcome, run];
}

export function App({ ddClient }) {
  const [backendOutcome, runBackend] = useCall();
  const [binaryOutcome, runBinary] = useCall();
  const { platform, arch, hostname } = ddClient.host;
  return (
    <Container maxWidth="md" sx={{ py: 4 }}>
      <Stack direction="row" alignItems="center" spacing={2} sx={{ mb: 1 }}>
        <Typography variant="h3" component="h1" data-testid="title">
          ddbridge test page
        </Typography>
        <Chip label="React 18 · MUI 5" color="primary" size="small" />
      </Stack>
      <Typography variant="body1" color="text.secondary" sx={{ mb: 3 }}>
        The Docker Desktop extension client, served by ddbridge in a plain browser.
      </Typography>

      <Stack spacing={2}>
        <Card variant="outlined" data-testid="host-card">
          <CardContent>
            <Typography variant="h6" gutterBottom>
              Host
            </Typography>
            <Stack direction="row" spacing={6}>
              <Fact label="Platform" value={platform} testId="host-platform" />
              <Fact label="Architecture" value={arch} testId="host-arch" />
              <Fact label="Hostname" value={hostname} testId="host-hostname" />
            </Stack>
          </CardContent>
        </Card>

        <Card variant="outlined">
          <CardContent>
            <Typography variant="h6" gutterBottom>
              Extension backend
            </Typography>
            <Button
              variant="contained"
              data-testid="backend-get"
              onClick={() => runBackend(() => ddClient.extension.vm.service.get("/echo?from=button"))}
            >
              GET /echo
            </Button>
            <Outcome outcome={backendOutcome} testId="backend-result" />
          </CardContent>
        </Card>

        <Card variant="outlined">
          <CardContent>
            <Typography variant="h6" gutterBottom>
              Host binary
            </Typography>
            <Button
              variant="contained"
              data-testid="binary-run"
              onClick={() => runBinary(() => ddClient.extension.host.cli.exec("greet", ["from", "button"]))}
            >
              Run greet
            </Button>
            <Outcome outcome={binaryOutcome} testId="binary-result" />
          </CardContent>
        </Card>

        <Card variant="outlined">
          <CardContent>
            <Typography variant="h6" gutterBottom>
              Toasts
            </Typography>
            <Stack direction="row" spacing={1}>
              <Button
                variant="outlined"
                color="success"
                data-testid="toast-success"
                onClick={() => ddClient.desktopUI.toast.success("Saved from the button")}
              >
                Success
              </Button>
              <Button
                variant="outlined"
                color="warning"
                data-testid="toast-warning"
                onClick={() => ddClient.desktopUI.toast.warning("Careful from the button")}
              >
                Warning
              </Button>
              <Button
                variant="outlined"
                color="error"
                data-testid="toast-error"
                onClick={() => ddClient.desktopUI.toast.error("Broken from the button")}
              >
                Error
              </Button>
            </Stack>
          </CardContent>
        </Card>
      </Stack>
    </Container>
  );
}
