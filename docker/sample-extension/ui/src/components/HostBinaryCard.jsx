import Button from "@mui/material/Button";
import Divider from "@mui/material/Divider";
import Grid from "@mui/material/Grid";
import Stack from "@mui/material/Stack";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { useEffect, useRef, useState } from "react";
import { ddClient, SAMPLE_CLI, describeError } from "../client.js";
import { TerminalIcon } from "./icons.jsx";
import { IDLE, ResultPanel } from "./ResultPanel.jsx";
import { SectionCard } from "./SectionCard.jsx";
import { useCall } from "./useCall.js";

const presentExec = (result) => ({ label: `exit code ${result.code ?? 0}`, text: result.stdout });

/** A blocking run: the result arrives when the process ends. */
function BlockingRun() {
  const [name, setName] = useState("Moby");
  const [state, run] = useCall(presentExec);
  return (
    <Stack spacing={1.5}>
      <Typography variant="subtitle2">Run to completion</Typography>
      <Stack direction="row" spacing={1}>
        <TextField
          size="small"
          label="Name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          inputProps={{ "data-testid": "binary-name" }}
          sx={{ flex: 1 }}
        />
        <Button
          variant="contained"
          data-testid="binary-hello"
          onClick={() => run(() => ddClient.extension.host.cli.exec(SAMPLE_CLI, ["hello", name]))}
        >
          Say hello
        </Button>
      </Stack>
      <ResultPanel state={state} testId="binary-result" placeholder={`${SAMPLE_CLI} hello NAME`} />
    </Stack>
  );
}

/** A streaming run: output line by line as it comes, and a Stop button that ends the process. */
function StreamingRun() {
  const [count, setCount] = useState("10");
  const [state, setState] = useState(IDLE);
  const process = useRef(null);

  // Whatever runs when the card goes away is ended too.
  useEffect(() => () => process.current?.close(), []);

  const append = (line) =>
    setState((previous) => ({ ...previous, text: (previous.text || "") + line + "\n" }));

  const start = () => {
    setState({ status: "running", label: "running…", text: "" });
    process.current = ddClient.extension.host.cli.exec(SAMPLE_CLI, ["count", count, "0.4"], {
      stream: {
        splitOutputLines: true,
        onOutput: (data) => append(data.stdout ?? `[stderr] ${data.stderr}`),
        onError: (error) => {
          process.current = null;
          setState((previous) => ({ ...previous, status: "error", label: "failed", text: describeError(error) }));
        },
        onClose: (exitCode) => {
          process.current = null;
          setState((previous) => ({
            ...previous,
            status: exitCode === 0 ? "ok" : "error",
            label: exitCode === 0 ? "exit code 0" : `stopped (exit code ${exitCode})`,
          }));
        },
      },
    });
  };

  const running = state.status === "running";
  return (
    <Stack spacing={1.5}>
      <Typography variant="subtitle2">Stream the output</Typography>
      <Stack direction="row" spacing={1}>
        <TextField
          size="small"
          label="Count to"
          type="number"
          value={count}
          onChange={(event) => setCount(event.target.value)}
          inputProps={{ min: 1, "data-testid": "binary-count" }}
          sx={{ flex: 1 }}
        />
        <Button variant="contained" data-testid="binary-count-start" disabled={running} onClick={start}>
          Start
        </Button>
        <Button
          variant="outlined"
          color="error"
          data-testid="binary-count-stop"
          disabled={!running}
          onClick={() => process.current?.close()}
        >
          Stop
        </Button>
      </Stack>
      <ResultPanel state={state} testId="binary-stream" placeholder={`${SAMPLE_CLI} count N`} />
    </Stack>
  );
}

/** The extension's host binary, blocking and streaming: ddClient.extension.host.cli.exec. */
export function HostBinaryCard() {
  return (
    <SectionCard
      icon={TerminalIcon}
      title="Host binary"
      subtitle={`Runs ${SAMPLE_CLI}, a binary the extension ships for the host, with arguments (never a shell).`}
      api="ddClient.extension.host.cli.exec(cmd, args, {stream})"
      testId="binary-card"
    >
      <Grid container spacing={3}>
        <Grid item xs={12} md={6}>
          <BlockingRun />
        </Grid>
        <Grid item xs={12} md={6} sx={{ position: "relative" }}>
          <Divider
            orientation="vertical"
            sx={{ position: "absolute", left: 12, top: 24, bottom: 0, display: { xs: "none", md: "block" } }}
          />
          <StreamingRun />
        </Grid>
      </Grid>
    </SectionCard>
  );
}
