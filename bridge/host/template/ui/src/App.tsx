import { createDockerDesktopClient } from "@docker/extension-api-client";
import Button from "@mui/material/Button";
import Stack from "@mui/material/Stack";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { useState } from "react";

// The extension API: Docker Desktop (or ddbridge, in a browser) provides it to the page.
const ddClient = createDockerDesktopClient();

// What a failed service call rejects with: the backend's status and body.
interface ServiceError {
  statusCode?: number;
  message?: string;
}

function describe(error: unknown): string {
  const { statusCode, message } = (error ?? {}) as ServiceError;
  return statusCode ? `${statusCode}: ${message}` : String(message ?? error);
}

export function App() {
  const [answer, setAnswer] = useState("");

  async function callBackend() {
    try {
      const hello = await ddClient.extension.vm?.service?.get("/hello");
      setAnswer(JSON.stringify(hello, null, 2));
    } catch (error) {
      setAnswer("");
      ddClient.desktopUI.toast.error(`The backend did not answer: ${describe(error)}`);
    }
  }

  return (
    <>
      <Typography variant="h3">__EXTENSION_TITLE__</Typography>
      <Typography variant="body1" color="text.secondary" sx={{ mt: 2 }}>
        A new Docker extension: this React UI and a Python backend that listens on the
        guest-services socket. Press the button to call the backend's /hello.
      </Typography>
      <Stack direction="row" alignItems="start" spacing={2} sx={{ mt: 4 }}>
        <Button variant="contained" onClick={callBackend}>
          Call the backend
        </Button>
        <TextField
          label="The backend's answer"
          sx={{ width: 480 }}
          disabled
          multiline
          minRows={5}
          value={answer}
          inputProps={{ "data-testid": "answer" }}
        />
      </Stack>
    </>
  );
}
