import Button from "@mui/material/Button";
import Stack from "@mui/material/Stack";
import TextField from "@mui/material/TextField";
import { useState } from "react";
import { ddClient } from "../client.js";
import { CloudIcon } from "./icons.jsx";
import { ResultPanel } from "./ResultPanel.jsx";
import { SectionCard } from "./SectionCard.jsx";
import { useCall } from "./useCall.js";

const service = ddClient.extension.vm.service;

const presentJson = (value) => ({
  label: "200 OK",
  text: typeof value === "string" ? value : JSON.stringify(value, null, 2),
});

/** Calls to the extension's backend service: ddClient.extension.vm.service. */
export function BackendCard() {
  const [state, run] = useCall(presentJson);
  const [note, setNote] = useState("Hi backend!");
  return (
    <SectionCard
      icon={CloudIcon}
      title="Backend service"
      subtitle="HTTP calls to the extension's backend, over its unix socket."
      api="ddClient.extension.vm.service.get / post"
      testId="backend-card"
    >
      <Stack direction={{ xs: "column", sm: "row" }} spacing={1} sx={{ mb: 2 }} alignItems="center">
        <Button variant="contained" data-testid="backend-hello" onClick={() => run(() => service.get("/hello"))}>
          GET /hello
        </Button>
        <TextField
          size="small"
          label="Note to echo"
          value={note}
          onChange={(event) => setNote(event.target.value)}
          inputProps={{ "data-testid": "backend-note" }}
          sx={{ flex: 1 }}
        />
        <Button
          variant="outlined"
          data-testid="backend-echo"
          onClick={() => run(() => service.post("/echo", { note, sentAt: new Date().toISOString() }))}
        >
          POST /echo
        </Button>
      </Stack>
      <ResultPanel state={state} testId="backend-result" placeholder="Call the backend to see its answer." />
    </SectionCard>
  );
}
