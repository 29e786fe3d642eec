# time 2026-12-05T21:58:47.134134948Z
# netns client
State Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB 0      0      [2001:db8::1]:60318 [2001:db8::2]:92         
# netns server
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN   0      4096   [2001:db8::2]:92            [::]:*           
SYN-RECV 0      0      [2001:db8::2]:92   [2001:db8::1]:60318       
