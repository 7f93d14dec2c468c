/**
 * Who may mount here, as /proc tells it: the capability mount(2) checks, whether a setuid helper could
 * gain it, whether we run in a user namespace or a container. `auto` picks its method from this, and the
 * errors say what is missing in the words of the place we run in. The kernel still has the last word (a
 * security profile can refuse a mount this cannot see), so a failed mount gets a hint too.
 *
 * A user namespace is the way to mount without root on any Node version: its root holds CAP_SYS_ADMIN
 * over a mount namespace created with it, and FUSE may be mounted there (FS_USERNS_MOUNT in
 * fs/fuse/inode.c fuse_fs_type; the capability is checked against the mount namespace's owner,
 * fs/namespace.c may_mount). mount(8) works there as it does for root, so no descriptor passing is needed.
 */
import { access, readFile } from 'node:fs/promises';

/** What /proc says about this process's right to mount. */
export interface MountPrivilege {
  /**
   * CAP_SYS_ADMIN is in the effective set (CapEff in /proc/self/status): mount(2) may mount FUSE directly.
   * True for root, and for root of a user namespace (`unshare --user --map-root-user --mount`).
   */
  readonly capSysAdmin: boolean;
  /**
   * CAP_SYS_ADMIN is in the bounding set (CapBnd). A setuid-root helper such as fusermount3 gains only
   * capabilities from this set (security/commoncap.c cap_bprm_creds_from_file), so without it nothing
   * can mount: a container started without `--cap-add SYS_ADMIN`.
   */
  readonly capSysAdminBounding: boolean;
  /** no_new_privs is set (NoNewPrivs): exec ignores the setuid bit, so fusermount3 runs unprivileged. */
  readonly noNewPrivs: boolean;
  /**
   * In a user namespace other than the initial one: /proc/self/uid_map maps less than the whole uid range.
   * (Comparing /proc/self/ns/user with /proc/1/ns/user cannot tell: inside a container, pid 1 shares it.)
   */
  readonly userNamespace: boolean;
  /** What shows that we run in a container (e.g. `'docker (/.dockerenv)'`), or undefined. */
  readonly container: string | undefined;
}

/** Where the facts are read from; tests point these at files of their own. */
export interface PrivilegeSources {
  /** Defaults to `/proc/self/status`. */
  readonly status: string;
  /** Defaults to `/proc/self/uid_map`. */
  readonly uidMap: string;
  /** Defaults to `/proc/1/cgroup`. */
  readonly initCgroup: string;
  /** Files whose presence means a container engine made this root. Defaults to Docker's and Podman's. */
  readonly markers: readonly (readonly [path: string, engine: string])[];
  /** The `container` environment variable (systemd-nspawn, LXC, Podman set it). */
  readonly containerEnv: string | undefined;
  readonly euid: number;
}

export const DEFAULT_PRIVILEGE_SOURCES: PrivilegeSources = Object.freeze({
  status: '/proc/self/status',
  uidMap: '/proc/self/uid_map',
  initCgroup: '/proc/1/cgroup',
  markers: Object.freeze([['/.dockerenv', 'docker'], ['/run/.containerenv', 'podman']] as const),
  containerEnv: undefined,
  euid: -1,
});

/** CAP_SYS_ADMIN, the capability mount(2) checks (include/uapi/linux/capability.h). */
const CAP_SYS_ADMIN = 21n;

/** The initial user namespace's map: every uid to itself (kernel/user_namespace.c init_user_ns). */
const INITIAL_UID_MAP = /^\s*0\s+0\s+4294967295\s*$/;

/** Cgroup paths that container engines and Kubernetes give pid 1 (cgroup v1, or v2 without a cgroup namespace). */
const CGROUP_ENGINES: readonly (readonly [RegExp, string])[] = [
  [/\/kubepods/, 'kubernetes'],
  [/\/docker[-/]/, 'docker'],
  [/\/libpod[-_]/, 'podman'],
  [/\/lxc[./]/, 'lxc'],
  [/\/containerd\b/, 'containerd'],
];

function hasCapability(status: string, field: string, cap: bigint): boolean | undefined {
  const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1];
  return hex === undefined ? undefined : ((BigInt(`0x${hex}`) >> cap) & 1n) === 1n;
}

async function readOr(path: string, fallback: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => fallback);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The first sign of a container, or undefined. */
export async function detectContainer(sources: PrivilegeSources): Promise<string | undefined> {
  for (const [path, engine] of sources.markers) {
    if (await exists(path)) return `${engine} (${path})`;
  }
  if (sources.containerEnv !== undefined && sources.containerEnv !== '') return `${sources.containerEnv} ($container)`;
  const cgroup = await readOr(sources.initCgroup, '');
  for (const [pattern, engine] of CGROUP_ENGINES) {
    if (pattern.test(cgroup)) return `${engine} (${sources.initCgroup})`;
  }
  return undefined;
}

/**
 * Reads the facts. Without a readable /proc/self/status (no /proc), euid 0 stands for the capability,
 * and a helper is assumed able to mount, as before any of this was checked.
 */
export async function probeMountPrivilege(given: Partial<PrivilegeSources> = {}): Promise<MountPrivilege> {
  const sources: PrivilegeSources = {
    ...DEFAULT_PRIVILEGE_SOURCES,
    containerEnv: process.env['container'],
    euid: process.geteuid?.() ?? 0,
    ...given,
  };
  const status = await readOr(sources.status, '');
  const uidMap = await readOr(sources.uidMap, '');
  return {
    capSysAdmin: hasCapability(status, 'CapEff', CAP_SYS_ADMIN) ?? sources.euid === 0,
    capSysAdminBounding: hasCapability(status, 'CapBnd', CAP_SYS_ADMIN) ?? true,
    noNewPrivs: /^NoNewPrivs:\s*1$/m.test(status),
    userNamespace: uidMap !== '' && !INITIAL_UID_MAP.test(uidMap),
    container: await detectContainer(sources),
  };
}

/** Whether fusermount3 (setuid root) can gain CAP_SYS_ADMIN. */
export function helperCanMount(p: MountPrivilege): boolean {
  return p.capSysAdminBounding && !p.noNewPrivs;
}

/** The command that creates a user namespace able to mount FUSE. */
export const USERNS_COMMAND = 'unshare --user --map-root-user --mount';

/** How to give a container what FUSE needs. */
const CONTAINER_FLAGS = '--device /dev/fuse --cap-add SYS_ADMIN';

/** Why neither mount(8) nor fusermount3 can mount here, and what to do about it. */
export function notPermittedMessage(p: MountPrivilege): string {
  const why = !p.capSysAdminBounding
    ? 'it is not in the capability bounding set, so not even the setuid fusermount3 can gain it'
    : 'no_new_privs is set, so the setuid bit of fusermount3 is ignored';
  if (p.container !== undefined) {
    return `Mounting FUSE needs CAP_SYS_ADMIN, which this process lacks: ${why}. This looks like a container ` +
      `(${p.container}); start it with ${CONTAINER_FLAGS} (docker run or podman run), ` +
      `or mount inside a user namespace (${USERNS_COMMAND}) if the container allows creating one.`;
  }
  return `Mounting FUSE needs CAP_SYS_ADMIN, which this process lacks: ${why}. Run with that capability ` +
    `(as root), or mount inside a user namespace (${USERNS_COMMAND}).`;
}

/** Why method 'mount' cannot be used here. */
export function mountMethodRefusal(p: MountPrivilege): string {
  const inside = p.container === undefined ? '' : ` (in this container, ${p.container}: ${CONTAINER_FLAGS})`;
  return "method 'mount' needs CAP_SYS_ADMIN: root, or root of a user namespace that owns its mount namespace " +
    `(${USERNS_COMMAND})${inside}; use method 'auto' or 'fusermount3' as an ordinary user`;
}

/** The fix for a missing /dev/fuse. */
export function missingDeviceFix(p: MountPrivilege): string {
  if (p.container !== undefined) {
    return `this looks like a container (${p.container}) started without the device: start it with ` +
      `${CONTAINER_FLAGS} (docker run or podman run); the host needs the fuse module (modprobe fuse)`;
  }
  return `load the fuse kernel module (modprobe fuse), or in a container pass the device in (docker run ${CONTAINER_FLAGS} ...)`;
}

/** The fix when /dev/fuse exists but opening it fails with `code`. */
export function unopenableDeviceFix(p: MountPrivilege, device: string, mode: number, code: string | undefined): string {
  const modeText = (mode & 0o777).toString(8);
  if (code === 'EACCES') {
    return p.userNamespace
      ? `its mode is ${modeText} and its owner is outside this user namespace, so the namespace's root is an ` +
        `ordinary user to it: make it world read-writable (chmod 0666 ${device} outside, the usual udev default)`
      : `its mode is ${modeText}; make it world read-writable (chmod 0666 ${device}, the usual udev default) or run as root`;
  }
  if (code === 'EPERM') {
    // The device cgroup refuses open() with EPERM whatever the mode (security/device_cgroup.c).
    return p.container !== undefined
      ? `the container's device rules do not allow it (${p.container}): pass the device with --device /dev/fuse ` +
        '(a bind mount or mknod of it is not enough)'
      : `a device cgroup or security module refuses it (mode ${modeText})`;
  }
  if (code === 'ENODEV' || code === 'ENXIO') return 'the fuse kernel module is not loaded (modprobe fuse)';
  return `open failed with ${code ?? 'an unknown error'}`;
}

/**
 * A hint for a mount(8) that failed although we had CAP_SYS_ADMIN, or undefined. Only for a refusal
 * ("permission denied", "not permitted"): other failures say enough themselves.
 */
export function mountRefusedHint(p: MountPrivilege, output: string): string | undefined {
  if (!/permission denied|not permitted/i.test(output)) return undefined;
  if (p.userNamespace) {
    return 'In a user namespace FUSE can be mounted only in a mount namespace created with it or inside it: ' +
      `create both at once (${USERNS_COMMAND}), not the user namespace alone.`;
  }
  if (p.container !== undefined) {
    return `This looks like a container (${p.container}); its security profile may forbid mount(2) even with ` +
      "CAP_SYS_ADMIN (Docker's default AppArmor profile does: add --security-opt apparmor=unconfined).";
  }
  return undefined;
}
