# time 2026-12-05T21:58:43.815771623Z
# netns client
State    Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
SYN-SENT 0      1      [2001:db8::1]:48332 [2001:db8::2]:98         
# netns server
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN   0      4096   [2001:db8::2]:98            [::]:*           
SYN-RECV 0      0      [2001:db8::2]:98   [2001:db8::1]:48332       
