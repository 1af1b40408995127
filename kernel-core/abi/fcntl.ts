// The file-system constants user programs and servers share, with Linux's values (as
// <fcntl.h> and <sys/stat.h> give them): open flags, and the file-type bits of a mode.

/** Open flags (VFS_OPEN's `flags`). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  ACCMODE: 3,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  DIRECTORY: 0o200000,
} as const;

/** File-type bits of a mode (stat's `mode`, a MINIX inode's i_mode). */
export const S = {
  IFMT: 0o170000,
  IFSOCK: 0o140000,
  IFLNK: 0o120000,
  IFREG: 0o100000,
  IFBLK: 0o060000,
  IFDIR: 0o040000,
  IFCHR: 0o020000,
  IFIFO: 0o010000,
} as const;

export const isDirMode = (mode: number): boolean => (mode & S.IFMT) === S.IFDIR;
export const isRegMode = (mode: number): boolean => (mode & S.IFMT) === S.IFREG;
