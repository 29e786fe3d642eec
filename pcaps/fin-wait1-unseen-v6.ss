# time 2026-12-05T21:58:49.835966728Z
# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
FIN-WAIT-1 0      1      [2001:db8::1]:53270 [2001:db8::2]:94         
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:94            [::]:*           
CLOSE-WAIT 0      0      [2001:db8::2]:94   [2001:db8::1]:53270       
