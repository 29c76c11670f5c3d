/**
 * The C library's local-time formats that ctlogd's lines copy: ctime(3)
 * (conntrack's `-o ktimestamp`) and syslog(3)'s timestamp (the local
 * syslog socket). Both are in the process's local time zone (TZ), as the C
 * library's are.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => String(n).padStart(2, '0');

/** `Mmm dd hh:mm:ss`, the day space-padded: syslog(3)'s timestamp. */
export function syslogTime(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** ctime(3) without its newline: "%.3s %.3s%3d %.2d:%.2d:%.2d %d". */
export function ctime(d: Date): string {
  // A day has at most two digits, so " %.3s%3d %.2d:%.2d:%.2d" is syslog(3)'s timestamp after a space.
  return `${DAYS[d.getDay()]} ${syslogTime(d)} ${d.getFullYear()}`;
}
