# time 2026-12-05T21:58:51.985233546Z
# netns client
State     Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
TIME-WAIT 0      0      [2001:db8::1]:58532 [2001:db8::2]:95         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN 0      4096   [2001:db8::2]:95           [::]:*          
