// The parts every generated NGINX config shares: one worker in the foreground, files kept in the temp
// folder (so no system path is written), no access log, and keep-alive that never retires a connection
// mid-run (the default of 1,000 requests would make every client and proxy reconnect during a run).
export function nginxConfig(dir: string, name: string, http: string): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/${name}-client-temp;
  proxy_temp_path ${dir}/${name}-proxy-temp;
  fastcgi_temp_path ${dir}/${name}-fastcgi-temp;
  uwsgi_temp_path ${dir}/${name}-uwsgi-temp;
  scgi_temp_path ${dir}/${name}-scgi-temp;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
${http}
}
`;
}

/** Arguments that keep NGINX off its compiled-in prefix and error log (-e needs NGINX ≥ 1.19.5). */
export function nginxArgs(dir: string, name: string, configPath: string): string[] {
  return ['-p', `${dir}/`, '-c', configPath, '-e', `${dir}/${name}-error.log`];
}
