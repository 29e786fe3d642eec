# time 2026-12-05T21:58:48.481004625Z
# netns client
State     Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
TIME-WAIT 0      0      [2001:db8::1]:38200 [2001:db8::2]:93         
# netns server
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN   0      4096   [2001:db8::2]:93            [::]:*           
LAST-ACK 0      1      [2001:db8::2]:93   [2001:db8::1]:38200       
