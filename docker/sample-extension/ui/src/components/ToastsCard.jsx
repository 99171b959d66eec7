import Button from "@mui/material/Button";
import Stack from "@mui/material/Stack";
import { ddClient } from "../client.js";
import { NotificationsIcon } from "./icons.jsx";
import { SectionCard } from "./SectionCard.jsx";

const TOASTS = [
  { level: "success", label: "Success", message: "Everything worked." },
  { level: "warning", label: "Warning", message: "This needs your attention." },
  { level: "error", label: "Error", message: "Something went wrong." },
];

/** Docker Desktop's notifications: ddClient.desktopUI.toast. */
export function ToastsCard() {
  return (
    <SectionCard
      icon={NotificationsIcon}
      title="Toasts"
      subtitle="Short notifications shown by Docker Desktop."
      api="ddClient.desktopUI.toast.success / warning / error"
      testId="toasts-card"
    >
      <Stack direction="row" spacing={1}>
        {TOASTS.map(({ level, label, message }) => (
          <Button
            key={level}
            variant="outlined"
            color={level}
            data-testid={`toast-${level}`}
            onClick={() => ddClient.desktopUI.toast[level](message)}
          >
            {label}
          </Button>
        ))}
      </Stack>
    </SectionCard>
  );
}
