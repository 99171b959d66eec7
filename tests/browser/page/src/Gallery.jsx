// A page of the MUI components Docker's extension design guidelines talk about, rendered through
// Docker's theme provider as the test page is: the browser theme test reads their computed styles,
// and the README's screenshots are taken of it (test page URL + "#gallery").
import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Card from "@mui/material/Card";
import CardContent from "@mui/material/CardContent";
import Checkbox from "@mui/material/Checkbox";
import Chip from "@mui/material/Chip";
import CircularProgress from "@mui/material/CircularProgress";
import Dialog from "@mui/material/Dialog";
import DialogActions from "@mui/material/DialogActions";
import DialogContent from "@mui/material/DialogContent";
import DialogContentText from "@mui/material/DialogContentText";
import DialogTitle from "@mui/material/DialogTitle";
import FormControlLabel from "@mui/material/FormControlLabel";
import IconButton from "@mui/material/IconButton";
import LinearProgress from "@mui/material/LinearProgress";
import Link from "@mui/material/Link";
import MenuItem from "@mui/material/MenuItem";
import Radio from "@mui/material/Radio";
import Stack from "@mui/material/Stack";
import SvgIcon from "@mui/material/SvgIcon";
import Switch from "@mui/material/Switch";
import Tab from "@mui/material/Tab";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Tabs from "@mui/material/Tabs";
import TextField from "@mui/material/TextField";
import Tooltip from "@mui/material/Tooltip";
import Typography from "@mui/material/Typography";
import { useState } from "react";

const HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"];
const TEXTS = ["subtitle1", "subtitle2", "body1", "body2", "caption", "overline"];
const CONTAINERS = [
  { name: "web", image: "nginx:1.27", state: "running" },
  { name: "db", image: "postgres:16", state: "exited" },
];

function DeleteIcon() {
  return (
    <SvgIcon>
      <path d="M6 19c0 1.1.9 2 2 2h8c1.1 0 2-.9 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z" />
    </SvgIcon>
  );
}

/** One titled group of the gallery. */
function Section({ title, children }) {
  return (
    <Card variant="outlined">
      <CardContent>
        <Typography variant="h6" gutterBottom>
          {title}
        </Typography>
        {children}
      </CardContent>
    </Card>
  );
}

function TypographySection() {
  return (
    <Section title="Typography">
      {HEADINGS.map((variant) => (
        <Typography key={variant} variant={variant} data-testid={`type-${variant}`} noWrap>
          {variant} heading
        </Typography>
      ))}
      {TEXTS.map((variant) => (
        <Typography key={variant} variant={variant} display="block" data-testid={`type-${variant}`}>
          {variant}: the quick brown fox
        </Typography>
      ))}
    </Section>
  );
}

function ControlsSection() {
  const [tab, setTab] = useState(0);
  return (
    <Section title="Buttons, tabs, chips">
      <Stack direction="row" spacing={1} flexWrap="wrap" useFlexGap sx={{ mb: 2 }}>
        <Button variant="contained" data-testid="button-contained">
          Contained
        </Button>
        <Button variant="contained" color="secondary" data-testid="button-secondary">
          Secondary
        </Button>
        <Button variant="outlined" data-testid="button-outlined">
          Outlined
        </Button>
        <Button variant="text">Text</Button>
        <Button variant="contained" disabled>
          Disabled
        </Button>
        <Tooltip title="Delete" open placement="right" arrow>
          <IconButton aria-label="delete" data-testid="icon-button">
            <DeleteIcon />
          </IconButton>
        </Tooltip>
      </Stack>
      <Tabs value={tab} onChange={(_, value) => setTab(value)} sx={{ mb: 2 }}>
        <Tab label="Containers" data-testid="tab-selected" />
        <Tab label="Images" data-testid="tab-other" />
        <Tab label="Volumes" disabled />
      </Tabs>
      <Stack direction="row" spacing={1} alignItems="center">
        <Chip label="Default" />
        <Chip label="Primary" color="primary" data-testid="chip" />
        <Chip label="Outlined" variant="outlined" />
        <Chip label="Small" size="small" color="primary" data-testid="chip-small" />
      </Stack>
    </Section>
  );
}

function FormsSection() {
  return (
    <Section title="Text fields and selection">
      <Stack spacing={2}>
        <Stack direction="row" spacing={2}>
          <TextField
            label="Outlined"
            defaultValue="nginx"
            size="small"
            inputProps={{ "data-testid": "text-field" }}
            InputLabelProps={{ "data-testid": "label-outlined" }}
          />
          <TextField label="Filled" variant="filled" defaultValue="latest" size="small" />
          <TextField
            label="Standard"
            variant="standard"
            defaultValue="8080"
            InputLabelProps={{ "data-testid": "label-standard" }}
          />
        </Stack>
        <Stack direction="row" spacing={2}>
          <TextField label="Disabled" disabled defaultValue="read only" size="small" />
          <TextField label="Error" error helperText="Port in use" defaultValue="80" size="small" />
          <TextField select label="Select" defaultValue="one" size="small" sx={{ minWidth: 120 }}>
            <MenuItem value="one">One</MenuItem>
            <MenuItem value="two">Two</MenuItem>
          </TextField>
        </Stack>
        <Stack direction="row" alignItems="center">
          <FormControlLabel control={<Checkbox defaultChecked />} label="Checkbox" />
          <FormControlLabel control={<Radio checked />} label="Radio" />
          <FormControlLabel control={<Switch defaultChecked />} label="Switch" />
        </Stack>
      </Stack>
    </Section>
  );
}

function TableSection() {
  return (
    <Section title="Table">
      <Table size="small">
        <TableHead>
          <TableRow>
            <TableCell data-testid="table-head">Name</TableCell>
            <TableCell>Image</TableCell>
            <TableCell>State</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {CONTAINERS.map(({ name, image, state }) => (
            <TableRow key={name} hover data-testid={`table-row-${name}`}>
              <TableCell data-testid={`table-cell-${name}`}>{name}</TableCell>
              <TableCell>{image}</TableCell>
              <TableCell>
                <Chip label={state} size="small" color={state === "running" ? "success" : "default"} />
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Section>
  );
}

function FeedbackSection() {
  return (
    <Section title="Feedback">
      <Stack spacing={1}>
        <Alert severity="info">An informational alert.</Alert>
        <Alert severity="error">Something went wrong.</Alert>
        <Stack direction="row" spacing={2} alignItems="center">
          <CircularProgress variant="determinate" value={70} size={24} />
          <LinearProgress variant="determinate" value={40} sx={{ flexGrow: 1 }} />
          <Link href="#gallery">A link</Link>
        </Stack>
      </Stack>
    </Section>
  );
}

/** A real Dialog, kept inside its box (a transformed box contains its fixed layers). */
function DialogSection() {
  return (
    <Section title="Dialog">
      <Box sx={{ position: "relative", height: 210, transform: "translateZ(0)", overflow: "hidden" }}>
        <Dialog
          open
          hideBackdrop
          disablePortal
          disableAutoFocus
          disableEnforceFocus
          disableScrollLock
          PaperProps={{ "data-testid": "dialog-paper" }}
        >
          <DialogTitle data-testid="dialog-title">Remove container?</DialogTitle>
          <DialogContent>
            <DialogContentText>The container web will be stopped and removed.</DialogContentText>
          </DialogContent>
          <DialogActions>
            <Button variant="outlined">Cancel</Button>
            <Button variant="contained" color="error">
              Remove
            </Button>
          </DialogActions>
        </Dialog>
      </Box>
    </Section>
  );
}

export function Gallery() {
  return (
    <Box data-testid="gallery" sx={{ p: 2, display: "grid", gridTemplateColumns: "1fr 1fr", gap: 2 }}>
      <Stack spacing={2}>
        <TypographySection />
        <TableSection />
      </Stack>
      <Stack spacing={2}>
        <ControlsSection />
        <FormsSection />
        <FeedbackSection />
        <DialogSection />
      </Stack>
    </Box>
  );
}
